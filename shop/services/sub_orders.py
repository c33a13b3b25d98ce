"""Sub-orders: units of a paid order line split off into an order of their own, shipped to another
person's address (a claimed gift copy). The shop offers this without knowing about gifts.

- The parent is a paid order of kind `gift` that ships nothing itself (`order_ship` refuses it).
- A sub-order starts `paid` (its money is the parent's), names its parent order and line, carries the
  recipient's address and ships like any order. Its refunds are paid from the parent's payment
  (`shop.services.refunds.order_payment`), so after-sales on it work as on any order.
- Units moved to sub-orders are no longer refundable on the parent line
  (`shop.services.refunds.order_refund_balances`), and the parent closes once every unit of every
  line is either moved to a sub-order or refunded (`order_close_if_settled`).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from shop import signals
from shop.models import SKU, Order, OrderEvent, OrderLine
from shop.services.announce import order_announce
from shop.services.errors import InvalidTransition, NotPurchasable
from shop.services.locking import lock_one
from shop.services.orders import _tell_merchants_paid, merchant_user_ids, order_event_log
from shop.services.rawsql import insert_many, insert_many_unique
from shop.services.stock import stock_move

S = Order.Status


def _renumber(order: Order) -> None:
    from shop.services.checkout import order_number_generate

    order.number = order_number_generate()


def moved_units(line_ids) -> dict[int, tuple[int, int]]:
    """{parent line id: (units, fen)} moved to sub-orders, for these lines (one query)."""
    rows = (
        OrderLine.objects.filter(order__parent_line_id__in=list(line_ids))
        .values("order__parent_line_id")
        .annotate(units=Sum("quantity"), fen=Sum("total_fen"))
    )
    return {row["order__parent_line_id"]: (row["units"], row["fen"]) for row in rows}


def order_lines_open(order: Order) -> bool:
    """Whether some line of `order` still has units neither refunded nor moved to a sub-order."""
    moved = (
        OrderLine.objects.filter(order__parent_line_id=OuterRef("pk"))
        .values("order__parent_line_id")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return (
        OrderLine.objects.filter(order=order)
        .annotate(moved=Coalesce(Subquery(moved, output_field=IntegerField()), Value(0)))
        .filter(refunded_fen__lt=F("total_fen"))
        .filter(quantity__gt=F("refunded_quantity") + F("moved"))
        .exists()
    )


def order_close_if_settled(order: Order) -> bool:
    """paid → closed for an order whose every unit is refunded or moved to sub-orders. The caller
    holds the order lock. Returns whether it closed."""
    if order.status != S.PAID or order_lines_open(order):
        return False
    order.status = S.CLOSED
    order.closed_at = timezone.now()
    order.save(update_fields=["status", "closed_at"])
    order_event_log(
        order=order,
        kind=OrderEvent.Kind.CLOSED,
        from_status=S.PAID,
        to_status=S.CLOSED,
        data={"refunded_fen": order.refunded_fen},
    )
    order_announce(signals.order_closed, orders=[order])
    return True


def sub_order_create(
    *,
    parent_order_id: int,
    parent_line_id: int,
    buyer,
    sku_id: int | None = None,
    address: dict,
    note: str = "",
    actor=None,
) -> Order:
    """Split one unit of a paid line of `parent_order_id` off into a paid sub-order for `buyer`,
    shipped to `address` (recipient_name, phone, province, city, district, detail). `sku_id` may name
    another active SKU of the same product: the unit's stock moves to it atomically (OutOfStock when it
    has none left, and nothing changes).

    Runs in the caller's transaction, or its own. Locks the parent order, then SKUs. Raises
    InvalidTransition when the parent is not paid or the line has no unit left (every unit refunded,
    being refunded or moved). Writes the sub-order, its line (the parent line's snapshot with the
    chosen SKU's spec, the parent's price and attribution), a `paid` event on it and a `sub_order`
    event on the parent; tells the merchants; announces `order_paid` for the sub-order; closes the
    parent when this was its last open unit.
    """
    from shop.services.refunds import order_refund_balances

    with transaction.atomic():
        parent = lock_one(Order.objects.filter(pk=parent_order_id))
        if parent is None or parent.status != S.PAID:
            raise InvalidTransition(_("This order no longer has units to hand out."))
        line = OrderLine.objects.filter(pk=parent_line_id, order=parent).first()
        if line is None:
            raise InvalidTransition(_("This order no longer has units to hand out."))
        balances, _shipping = order_refund_balances(parent)
        left = balances.get(line.pk)
        if left is None or left.quantity_left < 1:
            raise InvalidTransition(_("Every unit of this order has been handed out or refunded."))
        target = line.sku
        if sku_id is not None and int(sku_id) != line.sku_id:
            target = SKU.objects.select_related("product").filter(pk=sku_id).first()
            if target is None or target.product_id != line.product_id or not target.is_active:
                raise NotPurchasable(field="sku_id")
            stock_move(from_sku_id=line.sku_id, to_sku_id=target.pk, quantity=1)
        now = timezone.now()
        unit_fen = line.total_fen // line.quantity
        order = Order(
            number="",
            buyer=buyer,
            shop_id=parent.shop_id,
            kind=Order.Kind.GIFT_CLAIM,
            status=S.PAID,
            parent_order=parent,
            parent_line=line,
            items_fen=unit_fen,
            shipping_fen=0,
            total_fen=unit_fen,
            recipient_name=address["recipient_name"][:40],
            recipient_phone=address["phone"][:11],
            province=address["province"][:40],
            city=address["city"][:40],
            district=address.get("district", "")[:40],
            address_detail=address["detail"][:200],
            note=(note or "")[:200],
            payment_deadline=now,
            paid_at=now,
        )
        _renumber(order)
        insert_many_unique([order], unique="number", regenerate=_renumber)
        sub_line = OrderLine(
            order=order,
            sku_id=target.pk if target else None,
            product_id=line.product_id,
            title=line.title,
            spec_label=target.spec_label if target else line.spec_label,
            image_url=line.image_url,
            unit_price_fen=line.unit_price_fen,
            quantity=1,
            total_fen=unit_fen,
            attribution=line.attribution,
        )
        insert_many([sub_line])
        OrderEvent.objects.bulk_create(
            [
                OrderEvent(
                    order=order,
                    actor=actor if getattr(actor, "pk", None) else None,
                    kind=OrderEvent.Kind.PAID,
                    to_status=S.PAID,
                    note=parent.number,
                    data={"parent_order_id": parent.pk, "parent_line_id": line.pk},
                ),
                OrderEvent(
                    order=parent,
                    actor=actor if getattr(actor, "pk", None) else None,
                    kind=OrderEvent.Kind.SUB_ORDER,
                    from_status=S.PAID,
                    to_status=S.PAID,
                    note=order.number,
                    data={"sub_order_id": order.pk, "parent_line_id": line.pk, "quantity": 1},
                ),
            ]
        )
        _tell_merchants_paid(order, merchant_user_ids(parent.shop_id))
        order_announce(signals.order_paid, orders=[order])
        if left.quantity_left == 1:
            order_close_if_settled(parent)
    return order
