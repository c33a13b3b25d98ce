"""Reads for the merchant's back office: what to do today, and the badge every admin page carries.

Everything here takes the shop ids already resolved (None for operators: every shop), so a page
pays for the merchant's scoping once, and every query filters by `shop_id` through an index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from shop.models import SKU, AfterSalesRequest, Order
from shop.selectors.dashboard import SALES_STATUSES

# After-sales requests that wait for the merchant: a new request to answer, and returned goods on
# their way back, whose receipt the merchant confirms before the refund.
AFTER_SALES_WAITING_STATUSES = [AfterSalesRequest.Status.OPEN, AfterSalesRequest.Status.RETURN_SHIPPED]
TODO_LIST_LENGTH = 10


def _in_shops(queryset: QuerySet, shop_ids: list[int] | None, path: str = "shop_id") -> QuerySet:
    return queryset if shop_ids is None else queryset.filter(**{f"{path}__in": shop_ids})


def orders_to_ship(*, shop_ids: list[int] | None) -> QuerySet:
    """Paid orders waiting to be shipped, the longest-waiting first."""
    return _in_shops(Order.objects.filter(status=Order.Status.PAID), shop_ids).order_by("paid_at", "id")


def after_sales_waiting(*, shop_ids: list[int] | None) -> QuerySet:
    """After-sales requests waiting for the merchant, the oldest first."""
    return _in_shops(
        AfterSalesRequest.objects.filter(status__in=AFTER_SALES_WAITING_STATUSES), shop_ids, "order__shop_id"
    ).order_by("created_at", "id")


@dataclass
class TodoCounts:
    """The badge: how many orders wait to be shipped and how many after-sales requests wait."""

    to_ship: int
    after_sales: int

    @property
    def total(self) -> int:
        return self.to_ship + self.after_sales


def backoffice_todo_counts(*, shop_ids: list[int] | None) -> TodoCounts:
    """Two indexed counts (orders by shop and status; open after-sales requests)."""
    return TodoCounts(
        to_ship=orders_to_ship(shop_ids=shop_ids).order_by().count(),
        after_sales=after_sales_waiting(shop_ids=shop_ids).order_by().count(),
    )


@dataclass
class TodaySales:
    orders: int
    total_fen: int


@dataclass
class Today:
    counts: TodoCounts
    orders_to_ship: list[Order]
    after_sales: list[AfterSalesRequest]
    low_stock_count: int
    low_stock_skus: list[SKU]
    sales: TodaySales
    low_stock_threshold: int
    day_start: datetime = field(default_factory=timezone.now)


def local_day_start(now: datetime | None = None) -> datetime:
    """Midnight today in the shop's time zone (TIME_ZONE), as an aware datetime."""
    now = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(now.date(), time.min), now.tzinfo)


def backoffice_today(*, shop_ids: list[int] | None, now: datetime | None = None) -> Today:
    """What the merchant should do today, in a fixed number of queries (seven) whatever the shop's size:
    orders to ship, after-sales to answer, low stock, and today's sales (orders paid since local midnight)."""
    threshold = settings.LOW_STOCK_THRESHOLD
    start = local_day_start(now)
    counts = backoffice_todo_counts(shop_ids=shop_ids)
    to_ship = list(orders_to_ship(shop_ids=shop_ids).select_related("shop", "buyer")[:TODO_LIST_LENGTH])
    waiting = list(
        after_sales_waiting(shop_ids=shop_ids).select_related("order", "line", "requested_by")[
            :TODO_LIST_LENGTH
        ]
    )
    active_skus = _in_shops(
        SKU.objects.filter(is_active=True, stock__lte=threshold), shop_ids, "product__shop_id"
    )
    low_count = active_skus.count()
    low_skus = list(active_skus.select_related("product").order_by("stock", "id")[:TODO_LIST_LENGTH])
    sales = _in_shops(
        Order.objects.filter(
            paid_at__gte=start, paid_at__lt=start + timedelta(days=1), status__in=SALES_STATUSES
        ),
        shop_ids,
    ).aggregate(orders=Count("*"), total=Coalesce(Sum("total_fen"), 0))
    return Today(
        counts=counts,
        orders_to_ship=to_ship,
        after_sales=waiting,
        low_stock_count=low_count,
        low_stock_skus=low_skus,
        sales=TodaySales(orders=sales["orders"], total_fen=sales["total"]),
        low_stock_threshold=threshold,
        day_start=start,
    )
