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

import json

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


_LINE_LEFT_SQL = """
SELECT l.id, l.sku_id, l.product_id, l.title, l.spec_label, l.image_url, l.unit_price_fen, l.quantity,
       l.total_fen, l.attribution,
       l.quantity
       - COALESCE((SELECT SUM(x.quantity) FROM shop_refundline x JOIN shop_refund r ON r.id = x.refund_id
                   WHERE x.line_id = l.id AND r.status IN ('processing', 'succeeded', 'abnormal')), 0)
       - COALESCE((SELECT SUM(m.quantity) FROM shop_orderline m JOIN shop_order s ON s.id = m.order_id
                   WHERE s.parent_line_id = l.id), 0) AS units_left
FROM shop_orderline l WHERE l.id = %s AND l.order_id = %s
"""


def _locked_parent(parent_order_id: int) -> Order | None:
    return lock_one(
        Order.objects.filter(pk=parent_order_id).only("pk", "status", "shop_id", "number", "kind")
    )


def sub_order_create(
    *,
    parent_order_id: int,
    parent_line_id: int,
    buyer,
    sku_id: int | None = None,
    address: dict,
    note: str = "",
    actor=None,
    rows_for=None,
    messages=(),
    merchant_ids: list[int] | None = None,
) -> Order:
    """Split one unit of a paid line of `parent_order_id` off into a paid sub-order for `buyer`,
    shipped to `address` (recipient_name, phone, province, city, district, detail). `sku_id` may name
    another active SKU of the same product: the unit's stock moves to it atomically (OutOfStock when it
    has none left, and nothing changes).

    Runs inside the caller's transaction (required). Locks the parent order, then SKUs. Raises
    InvalidTransition when the parent is not paid or the line has no unit left (every unit refunded,
    being refunded or moved). Writes the sub-order, its line (the parent line's snapshot with the
    chosen SKU's spec, the parent's price and attribution), a `paid` event on it and a `sub_order`
    event on the parent; tells the merchants; announces `order_paid` for the sub-order; closes the
    parent when this was its last open unit. `rows_for(order)` may return unsaved rows of the
    caller's (referring to the new sub-order) and `messages` outbox messages of the caller's: they
    are written in the same statement as the line and events. `merchant_ids` (the shop's people, when
    the caller read them before taking its locks) saves a query.
    """
    from accounts.services import notification_deliver

    assert transaction.get_connection().in_atomic_block, "sub_order_create needs the caller's transaction"
    merchants = merchant_ids if merchant_ids is not None else merchant_user_ids_of_order(parent_order_id)
    target = None
    if sku_id is not None:
        target = SKU.objects.filter(pk=sku_id).only("pk", "product_id", "is_active", "spec_label").first()
    parent = _locked_parent(parent_order_id)
    if parent is None or parent.status != S.PAID:
        raise InvalidTransition(_("This order no longer has units to hand out."))
    with connection.cursor() as cursor:
        cursor.execute(_LINE_LEFT_SQL, [parent_line_id, parent.pk])
        row = cursor.fetchone()
    if row is None:
        raise InvalidTransition(_("This order no longer has units to hand out."))
    (line_id, line_sku_id, product_id, title, spec_label, image_url, unit_price_fen, quantity, total_fen,
     attribution, units_left) = row  # fmt: skip
    if isinstance(attribution, str):  # a raw cursor hands jsonb over as text, as the ORM's field expects
        attribution = json.loads(attribution)
    if units_left < 1:
        raise InvalidTransition(_("Every unit of this order has been handed out or refunded."))
    if target is not None and target.pk != line_sku_id:
        if target.product_id != product_id or not target.is_active:
            raise NotPurchasable(field="sku_id")
        stock_move(from_sku_id=line_sku_id, to_sku_id=target.pk, quantity=1)
        spec_label = target.spec_label
    now = timezone.now()
    unit_fen = total_fen // quantity
    order = Order(
        number="",
        buyer=buyer,
        shop_id=parent.shop_id,
        kind=Order.Kind.GIFT_CLAIM,
        status=S.PAID,
        parent_order_id=parent.pk,
        parent_line_id=line_id,
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
        sku_id=target.pk if target is not None else line_sku_id,
        product_id=product_id,
        title=title,
        spec_label=spec_label,
        image_url=image_url,
        unit_price_fen=unit_price_fen,
        quantity=1,
        total_fen=unit_fen,
        attribution=attribution,
    )
    events = [
        OrderEvent(
            order=order,
            actor=actor,
            kind=OrderEvent.Kind.PAID,
            to_status=S.PAID,
            note=parent.number,
            data={"parent_order_id": parent.pk, "parent_line_id": line_id},
        ),
        OrderEvent(
            order_id=parent.pk,
            actor=actor,
            kind=OrderEvent.Kind.SUB_ORDER,
            from_status=S.PAID,
            to_status=S.PAID,
            note=order.number,
            data={"sub_order_id": order.pk, "parent_line_id": line_id, "quantity": 1},
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
    if units_left == 1:
        parent = Order.objects.get(pk=parent.pk)
        order_close_if_settled(parent)
    return order


def merchant_user_ids_of_order(order_id: int) -> list[int]:
    """The owner and staff of the shop an order belongs to (one query)."""
    return list(
        ShopMembership.objects.filter(shop__orders__pk=order_id).values_list("user_id", flat=True).distinct()
    )
