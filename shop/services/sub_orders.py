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

from django.db import connection, transaction
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from outbox.services import outbox_message, outbox_relay_on_commit
from shop import signals
from shop.models import SKU, Order, OrderEvent, OrderLine, ShopMembership
from shop.services.announce import order_announce, order_announcement_messages
from shop.services.errors import InvalidTransition, NotPurchasable
from shop.services.locking import lock_one
from shop.services.orders import _merchant_paid_notices, order_event_log
from shop.services.rawsql import insert_many_unique, insert_together
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


_UNITS_LEFT_SQL = """
SELECT o.status,
       l.quantity
       - COALESCE((SELECT SUM(x.quantity) FROM shop_refundline x JOIN shop_refund r ON r.id = x.refund_id
                   WHERE x.line_id = l.id AND r.status IN ('processing', 'succeeded', 'abnormal')), 0)
       - COALESCE((SELECT SUM(m.quantity) FROM shop_orderline m JOIN shop_order s ON s.id = m.order_id
                   WHERE s.parent_line_id = l.id), 0) AS units_left
FROM shop_orderline l JOIN shop_order o ON o.id = l.order_id
WHERE l.id = %s
"""


def sub_order_create(
    *,
    parent: Order,
    parent_line: OrderLine,
    buyer,
    sku: SKU | None = None,
    address: dict,
    note: str = "",
    actor=None,
    rows_for=None,
    messages=(),
    merchant_ids: list[int] | None = None,
    reserve_unit=None,
) -> Order:
    """Split one unit of `parent_line`, a line of the paid order `parent`, off into a paid sub-order
    for `buyer`, shipped to `address` (recipient_name, phone, province, city, district, detail).
    `sku` may be another active SKU of the same product: the unit's stock moves to it atomically
    (OutOfStock when it has none left, and nothing changes).

    Runs inside the caller's transaction (required), which a refusal rolls back. Writes the sub-order,
    its line (the parent line's snapshot with the chosen SKU's spec, the parent's price and
    attribution), a `paid` event on it and a `sub_order` event on the parent, the merchants' notices
    and the `order_paid` announcement; then checks, under the parent's lock, that the parent is still
    paid and the line still had a unit neither refunded, being refunded nor moved (InvalidTransition
    otherwise); moves stock for another SKU; closes the parent when this was its last unit.

    Locks, without `reserve_unit`: the parent order row (FOR NO KEY UPDATE, which the sub-order's
    foreign key does not conflict with) after the INSERTs, so the check and the commit are all it is
    held for; then SKUs, then (last unit only) the parent is closed.

    With `reserve_unit`: the caller hands out the units by its own rows, one per sub-order (gifting's
    copy rows, each taken by one claim or closed before the parent line's units are refunded), and
    `reserve_unit()` takes one after the INSERTs (raising to refuse). Then no row is locked here but
    the SKUs of a switch, the units check is the caller's, and the parent is not closed here: claims
    commit side by side, so only the caller knows which came last; it calls `sub_order_parent_close`
    after its commit.
    `rows_for(order)` may return unsaved rows of the caller's referring to the new sub-order and
    `messages` outbox messages of the caller's: both go into the one INSERT of the line and events.
    `merchant_ids` (the shop's people, read by the caller before its transaction) saves a query.
    """
    from accounts.services import notification_deliver

    assert transaction.get_connection().in_atomic_block, "sub_order_create needs the caller's transaction"
    merchants = merchant_ids if merchant_ids is not None else merchant_user_ids_of_order(parent.pk)
    if parent.status != S.PAID or parent_line.order_id != parent.pk:
        raise InvalidTransition(_("This order no longer has units to hand out."))
    spec_label = parent_line.spec_label
    if sku is not None and sku.pk != parent_line.sku_id:
        if sku.product_id != parent_line.product_id or not sku.is_active:
            raise NotPurchasable(field="sku_id")
        spec_label = sku.spec_label
    else:
        sku = None
    now = timezone.now()
    unit_fen = parent_line.total_fen // parent_line.quantity
    order = Order(
        number="",
        buyer=buyer,
        shop_id=parent.shop_id,
        kind=Order.Kind.GIFT_CLAIM,
        status=S.PAID,
        parent_order_id=parent.pk,
        parent_line_id=parent_line.pk,
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
    actor = actor if getattr(actor, "pk", None) else None
    sub_line = OrderLine(
        order=order,
        sku_id=sku.pk if sku is not None else parent_line.sku_id,
        product_id=parent_line.product_id,
        title=parent_line.title,
        spec_label=spec_label,
        image_url=parent_line.image_url,
        unit_price_fen=parent_line.unit_price_fen,
        quantity=1,
        total_fen=unit_fen,
        attribution=parent_line.attribution,
    )
    events = [
        OrderEvent(
            order=order,
            actor=actor,
            kind=OrderEvent.Kind.PAID,
            to_status=S.PAID,
            note=parent.number,
            data={"parent_order_id": parent.pk, "parent_line_id": parent_line.pk},
        ),
        OrderEvent(
            order_id=parent.pk,
            actor=actor,
            kind=OrderEvent.Kind.SUB_ORDER,
            from_status=S.PAID,
            to_status=S.PAID,
            note=order.number,
            data={"sub_order_id": order.pk, "parent_line_id": parent_line.pk, "quantity": 1},
        ),
    ]
    # The merchants' "ship it" notices, the order_paid announcement and the caller's messages: one
    # INSERT, together with the line, the events and the caller's rows.
    outbox = [
        outbox_message(handler=notification_deliver, payload=notice)
        for notice in _merchant_paid_notices(order, merchants)
    ]
    outbox += order_announcement_messages(signals.order_paid, orders=[order])
    outbox += list(messages)
    extra = list(rows_for(order)) if rows_for else []
    insert_together([sub_line], events, extra, outbox)
    outbox_relay_on_commit(outbox)

    if reserve_unit is not None:
        reserve_unit()
        if sku is not None:
            stock_move(from_sku_id=parent_line.sku_id, to_sku_id=sku.pk, quantity=1)
        return order
    lock_one(Order.objects.filter(pk=parent.pk).only("pk"), no_key=True)
    with connection.cursor() as cursor:
        cursor.execute(_UNITS_LEFT_SQL, [parent_line.pk])
        status, units_left = cursor.fetchone()
    # units_left counts this sub-order's unit as moved already.
    if status != S.PAID:
        raise InvalidTransition(_("This order no longer has units to hand out."))
    if units_left < 0:
        raise InvalidTransition(_("Every unit of this order has been handed out or refunded."))
    if sku is not None:
        stock_move(from_sku_id=parent_line.sku_id, to_sku_id=sku.pk, quantity=1)
    if units_left == 0:
        closing = lock_one(Order.objects.filter(pk=parent.pk), no_key=True)
        order_close_if_settled(closing)
    return order


def sub_order_parent_close(order_id: int) -> bool:
    """Close the paid parent order `order_id` if every unit of it is now moved to sub-orders or
    refunded (its own short transaction, the order locked). Idempotent; returns whether it closed."""
    with transaction.atomic():
        order = lock_one(Order.objects.filter(pk=order_id), no_key=True)
        return order is not None and order_close_if_settled(order)


def merchant_user_ids_of_order(order_id: int) -> list[int]:
    """The owner and staff of the shop an order belongs to (one query)."""
    return list(
        ShopMembership.objects.filter(shop__orders__pk=order_id).values_list("user_id", flat=True).distinct()
    )
