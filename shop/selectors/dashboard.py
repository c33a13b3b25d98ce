"""The merchant dashboard's numbers: catalog counts, stock alerts and sales of the last days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from shop.models import SKU, Order, Product, ProductLike, Shop

LOW_STOCK = 5
# Orders whose money is in: paid, and everything after paid except cancellation.
SALES_STATUSES = [
    Order.Status.PAID,
    Order.Status.SHIPPED,
    Order.Status.RECEIVED,
    Order.Status.COMPLETED,
]


@dataclass
class DayFigure:
    day: date
    orders: int
    total_fen: int


@dataclass
class ShopNumbers:
    products_total: int
    products_on_sale: int
    products_draft: int
    products_off_shelf: int
    stock_total: int
    skus_sold_out: int
    skus_low: int
    likes_total: int
    low_stock_skus: list[SKU]
    sales_by_day: list[DayFigure]
    sales_total_fen: int
    sales_orders: int


def shop_sales_by_day(*, shop: Shop, days: int = 14, today: date | None = None) -> list[DayFigure]:
    """Paid (and later) orders per local day over the last `days` days, oldest first, zero-filled.

    A day is the local day the order was paid. The range is on `paid_at` itself, so the shop's
    (shop, paid_at) index finds the rows whatever the number of older orders, and it carries status and
    total (COUNT(*), not COUNT(id)), so the rows are read from the index alone.
    """
    tz = timezone.get_current_timezone()
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min), tz)
    end = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min), tz)
    rows = (
        Order.objects.filter(shop=shop, paid_at__gte=start, paid_at__lt=end, status__in=SALES_STATUSES)
        .annotate(day=TruncDate("paid_at", tzinfo=tz))
        .values("day")
        .annotate(orders=Count("*"), total=Sum("total_fen"))
    )
    by_day = {row["day"]: row for row in rows}
    figures = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(day)
        figures.append(
            DayFigure(
                day=day, orders=row["orders"] if row else 0, total_fen=(row["total"] or 0) if row else 0
            )
        )
    return figures


def shop_numbers(*, shop: Shop, days: int = 14) -> ShopNumbers:
    """Everything the dashboard shows for one shop, in a handful of queries."""
    products = Product.objects.filter(shop=shop).aggregate(
        total=Count("id"),
        on_sale=Count("id", filter=Q(status=Product.Status.ON_SALE)),
        draft=Count("id", filter=Q(status=Product.Status.DRAFT)),
        off_shelf=Count("id", filter=Q(status=Product.Status.OFF_SHELF)),
    )
    active_skus = SKU.objects.filter(product__shop=shop, is_active=True)
    stock = active_skus.aggregate(
        total=Coalesce(Sum("stock"), 0),
        sold_out=Count("id", filter=Q(stock=0)),
        low=Count("id", filter=Q(stock__gt=0, stock__lte=LOW_STOCK)),
    )
    low_stock_skus = list(
        active_skus.filter(stock__lte=LOW_STOCK).select_related("product").order_by("stock", "id")[:10]
    )
    sales = shop_sales_by_day(shop=shop, days=days)
    return ShopNumbers(
        products_total=products["total"],
        products_on_sale=products["on_sale"],
        products_draft=products["draft"],
        products_off_shelf=products["off_shelf"],
        stock_total=stock["total"],
        skus_sold_out=stock["sold_out"],
        skus_low=stock["low"],
        likes_total=ProductLike.objects.filter(product__shop=shop).count(),
        low_stock_skus=low_stock_skus,
        sales_by_day=sales,
        sales_total_fen=sum(day.total_fen for day in sales),
        sales_orders=sum(day.orders for day in sales),
    )
