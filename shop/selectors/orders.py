"""Reads of carts, orders and after-sales shared by pages, the API and the admin. Each does its joins
and prefetches once, so a page costs a fixed number of queries whatever its length."""

from collections import OrderedDict

from django.db.models import Prefetch, Q, QuerySet

from shop.models import (
    AfterSalesPhoto,
    AfterSalesRequest,
    Cart,
    CartLine,
    Order,
    OrderLine,
    ProductImage,
    Shop,
)

# Tabs of "my orders": key → statuses shown (None: all).
BUYER_ORDER_TABS: "OrderedDict[str, tuple[str, ...] | None]" = OrderedDict(
    [
        ("all", None),
        ("pending_payment", (Order.Status.PENDING_PAYMENT,)),
        ("paid", (Order.Status.PAID,)),
        ("shipped", (Order.Status.SHIPPED,)),
        ("received", (Order.Status.RECEIVED, Order.Status.COMPLETED)),
        ("cancelled", (Order.Status.CANCELLED, Order.Status.CLOSED)),
    ]
)


def cart_for_request(*, user, cart_id: int | None) -> Cart | None:
    """The signed-in user's cart, or the anonymous cart whose id the session holds."""
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user).first()
    if cart_id:
        return Cart.objects.filter(pk=cart_id, user__isnull=True).first()
    return None


def cart_lines(*, cart: Cart | None) -> list[CartLine]:
    """Cart lines with SKU, product, shop and the first image: two queries whatever the cart."""
    if cart is None:
        return []
    return list(
        CartLine.objects.filter(cart=cart)
        .select_related("sku__product__shop")
        .prefetch_related(
            Prefetch("sku__product__images", queryset=ProductImage.objects.order_by("position", "id"))
        )
        .order_by("id")
    )


def cart_lines_by_shop(lines: list[CartLine]) -> list[dict]:
    """Group lines per shop for the cart and checkout pages, with per-shop subtotals (fen)."""
    groups: OrderedDict[int, dict] = OrderedDict()
    for line in lines:
        shop: Shop = line.sku.product.shop
        group = groups.setdefault(
            shop.pk, {"shop": shop, "lines": [], "subtotal_fen": 0, "has_problem": False}
        )
        line.line_total_fen = line.sku.price_fen * line.quantity
        line.on_sale = line.sku.is_active and line.sku.product.status == "on_sale" and shop.is_active
        line.enough_stock = line.sku.stock >= line.quantity
        group["lines"].append(line)
        if line.on_sale and line.enough_stock:
            group["subtotal_fen"] += line.line_total_fen
        else:
            group["has_problem"] = True
    return list(groups.values())


def _with_lines(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("shop").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


def orders_for_buyer(*, user, tab: str = "all") -> QuerySet:
    queryset = Order.objects.filter(buyer=user)
    statuses = BUYER_ORDER_TABS.get(tab)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return _with_lines(queryset).order_by("-created_at", "-id")


def order_for_buyer(*, user, number: str) -> Order | None:
    """One of the buyer's orders with lines, events, payments and after-sales, or None."""
    return (
        Order.objects.filter(buyer=user, number=number)
        .select_related("shop")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            "events",
            Prefetch(
                "after_sales",
                queryset=AfterSalesRequest.objects.select_related("line").prefetch_related("photos"),
            ),
            "refunds__lines",
        )
        .first()
    )


def orders_for_merchant(*, user, status: str | None = None) -> QuerySet:
    queryset = Order.objects.all()
    if not user.is_superuser:
        queryset = queryset.filter(shop__in=Shop.objects.managed_by(user))
    if status:
        queryset = queryset.filter(status=status)
    return _with_lines(queryset).order_by("-created_at", "-id")


def after_sales_for_buyer(*, user) -> QuerySet:
    return (
        AfterSalesRequest.objects.filter(order__buyer=user)
        .select_related("order", "line")
        .prefetch_related("photos")
        .order_by("-created_at", "-id")
    )


def after_sales_for_merchant(*, user, status: str | None = None) -> QuerySet:
    queryset = AfterSalesRequest.objects.all()
    if not user.is_superuser:
        queryset = queryset.filter(order__shop__in=Shop.objects.managed_by(user))
    if status:
        queryset = queryset.filter(status=status)
    return queryset.select_related("order", "line").prefetch_related("photos").order_by("-created_at", "-id")


def managed_shop_ids(user) -> list[int] | None:
    """Ids of the shops `user` manages, or None for operators (all shops)."""
    if user.is_superuser:
        return None
    return list(Shop.objects.managed_by(user).values_list("pk", flat=True))


def orders_paid_together(order: Order) -> list[Order]:
    """The unpaid orders of `order`'s checkout (itself included), shop loaded: what one payment
    pays (see shop.services.payments.payment_start)."""
    if order.checkout_id is None or order.status != Order.Status.PENDING_PAYMENT:
        return [order]
    return list(
        Order.objects.filter(
            buyer_id=order.buyer_id, checkout_id=order.checkout_id, status=Order.Status.PENDING_PAYMENT
        )
        .select_related("shop")
        .order_by("pk")
    )


def after_sales_photo_for_viewer(*, user, photo_id: int) -> AfterSalesPhoto | None:
    """An after-sales photo `user` may see: of their own request or order (the buyer), of one of their
    shops' orders (merchant staff), or any (operators). Anyone else gets None, as for a missing photo."""
    if not user.is_authenticated or not user.is_active:
        return None
    queryset = AfterSalesPhoto.objects.filter(pk=photo_id).select_related("request")
    if not user.is_superuser:
        queryset = queryset.filter(
            Q(request__requested_by=user)
            | Q(request__order__buyer=user)
            | Q(request__order__shop__in=Shop.objects.managed_by(user))
        )
    return queryset.first()


# Orders whose goods the buyer has (or will have): paid and everything after, not cancelled ones.
BOUGHT_STATUSES = (
    Order.Status.PAID,
    Order.Status.SHIPPED,
    Order.Status.RECEIVED,
    Order.Status.COMPLETED,
)
