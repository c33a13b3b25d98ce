"""The order state machine: pending_payment → paid → shipped → received → completed, and cancelled.

Each transition is one function here that locks the order row, checks the current state, writes the
change and an OrderEvent (actor, from, to), and announces its domain signal in the same transaction
(shop.services.announce: receivers run after commit, each on its own). Asking for the state
the order is already in changes nothing and sends nothing; asking for a step the state does not allow
raises InvalidTransition. `order_mark_paid` is not called by views: the payment notification handler
(shop.services.payments) is the only path to `paid`.

The periodic jobs (`orders_cancel_overdue`, `orders_auto_receive`, `orders_complete_due`) are set-based:
one locked batch per statement, rows other workers hold are skipped, the UPDATE re-checks the state, so
two workers running at once, or one running twice, reach the same end state.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from config.exceptions import DomainError
from outbox.services import outbox_enqueue_many, outbox_message
from shop import signals
from shop.models import (
    AfterSalesRequest,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Product,
    Refund,
    ShopMembership,
)
from shop.services.announce import order_announce, order_announcement_messages
from shop.services.errors import InvalidTransition, OrderNotFound
from shop.services.locking import lock_one, lock_ordered
from shop.services.staff_permissions import StaffPermission, staff_require
from shop.services.stock import stock_return

logger = logging.getLogger(__name__)

S = Order.Status
JOB_BATCH_SIZE = 500
OPEN_AFTER_SALES = (
    AfterSalesRequest.Status.OPEN,
    AfterSalesRequest.Status.AWAITING_RETURN,
    AfterSalesRequest.Status.RETURN_SHIPPED,
    AfterSalesRequest.Status.APPROVED,
)


# --- helpers -------------------------------------------------------------------------------------


def order_event_log(
    *,
    order: Order,
    kind: str,
    actor=None,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    data: dict | None = None,
):
    """Write the OrderEvent of a change. `kind` is an OrderEvent.Kind; `data` is what a subscriber
    needs as JSON (amounts in fen, ids), `note` free text for people."""
    assert kind in OrderEvent.Kind.values, f"unknown order event kind {kind!r}"
    return OrderEvent.objects.create(
        order=order,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note[:300],
        data=data or {},
    )


def notify_user(*, user_id: int, key: str, kind: str, title: str, body: str = "", url: str = "") -> None:
    from accounts.services import notification_send

    notification_send(user_id=user_id, key=key, kind=kind, title=title, body=body, url=url)


def buyer_order_url(order: Order) -> str:
    return reverse("shop:order-detail", args=[order.number])


def _locked_order(*, order_id: int, buyer=None, shop_ids: Iterable[int] | None = None) -> Order:
    """Lock the order row. `buyer` / `shop_ids` fence it: an order outside them is 'not found'."""
    queryset = Order.objects.filter(pk=order_id)
    if buyer is not None:
        queryset = queryset.filter(buyer=buyer)
    if shop_ids is not None:
        queryset = queryset.filter(shop_id__in=list(shop_ids))
    order = lock_one(queryset)
    if order is None:
        raise OrderNotFound()
    return order


def _refuse(order: Order, action: str) -> InvalidTransition:
    return InvalidTransition(
        _("Order %(number)s is %(status)s and cannot be %(action)s.")
        % {"number": order.number, "status": order.get_status_display(), "action": action}
    )


def _refuse_shipping_while_money_is_open(order: Order) -> None:
    """Shipping waits while a refund is under way or an after-sales request is open: the merchant
    settles those first (the request may end in refunding the goods about to be sent). The order
    lock is held, and both refunds and requests are written under it, so this cannot go stale."""

    if Refund.objects.filter(
        order=order, status__in=[Refund.Status.PROCESSING, Refund.Status.ABNORMAL]
    ).exists():
        raise InvalidTransition(
            _(
                "A refund of order %(number)s is still being processed: "
                "wait until it succeeds or fails, then ship."
            )
            % {"number": order.number}
        )
    if AfterSalesRequest.objects.filter(order=order, status__in=OPEN_AFTER_SALES).exists():
        raise InvalidTransition(
            _("Order %(number)s has an open after-sales request: approve or reject it before shipping.")
            % {"number": order.number}
        )


def merchant_user_ids(shop_id: int) -> list[int]:
    """The shop owner and staff: who hears about paid orders."""
    return list(ShopMembership.objects.filter(shop_id=shop_id).values_list("user_id", flat=True))


# --- transitions ---------------------------------------------------------------------------------


def order_mark_paid(*, order: Order, payment: Payment) -> bool:
    """pending_payment → paid. Only for shop.services.payments, which holds the order lock and has
    just recorded `payment` as succeeded. Returns False (and changes nothing) if already paid."""
    if order.status == S.PAID and order.paid_at:
        return False
    if order.status != S.PENDING_PAYMENT:
        raise _refuse(order, pgettext("order action", "paid"))
    now = timezone.now()
    order.status = S.PAID
    order.paid_at = payment.paid_at or now
    order.save(update_fields=["status", "paid_at"])
    order_event_log(
        order=order,
        kind=OrderEvent.Kind.PAID,
        from_status=S.PENDING_PAYMENT,
        to_status=S.PAID,
        note=payment.transaction_id or "",
        data={
            "amount_fen": payment.amount_fen,
            "payment_id": payment.pk,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": payment.transaction_id,
        },
    )
    sold = (
        OrderLine.objects.filter(order=order, product_id__isnull=False)
        .values("product_id")
        .annotate(n=Sum("quantity"))
    )
    for row in sold:
        Product.objects.filter(pk=row["product_id"]).update(sales_count=F("sales_count") + row["n"])
    _tell_merchants_paid(order, merchant_user_ids(order.shop_id))
    order_announce(signals.order_paid, orders=[order])
    return True


def _merchant_paid_notices(order: Order, user_ids: Iterable[int]) -> list[dict]:
    admin_url = reverse("admin:shop_order_change", args=[order.pk])
    return [
        {
            "user_id": user_id,
            "key": f"order-paid:{order.pk}:{user_id}",
            "kind": "order_paid",
            "title": str(_("New paid order %(number)s") % {"number": order.number}),
            "body": str(_("%(amount)s paid. Please ship it.") % {"amount": f"¥{order.total_fen / 100:.2f}"}),
            "url": admin_url,
        }
        for user_id in user_ids
    ]


def _tell_merchants_paid(order: Order, user_ids: Iterable[int]) -> None:
    for notice in _merchant_paid_notices(order, user_ids):
        notify_user(**notice)


def orders_mark_paid(*, orders: list[Order], paid_at: datetime, payments: dict[int, Payment]) -> None:
    """pending_payment → paid for the orders of one combined payment, at once. Only for
    shop.services.payments, which holds the orders' locks and has just recorded their payments
    (`payments`: {order_id: payment}) as succeeded. Orders already paid are skipped.

    Set-based, so a checkout across many shops costs what one across two does: one UPDATE of the
    orders, one INSERT of their events, one UPDATE of the products' sales counts, one read of the
    merchants to tell, one INSERT into the outbox (their notices and the `order_paid` announcement).
    """
    orders = [order for order in orders if order.status == S.PENDING_PAYMENT]
    if not orders:
        return
    ids = [order.pk for order in orders]
    Order.objects.filter(pk__in=ids, status=S.PENDING_PAYMENT).update(status=S.PAID, paid_at=paid_at)
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order=order,
                kind=OrderEvent.Kind.PAID,
                from_status=S.PENDING_PAYMENT,
                to_status=S.PAID,
                note=payments[order.pk].transaction_id or "",
                data={
                    "amount_fen": payments[order.pk].amount_fen,
                    "payment_id": payments[order.pk].pk,
                    "out_trade_no": payments[order.pk].out_trade_no,
                    "transaction_id": payments[order.pk].transaction_id,
                    "combine_out_trade_no": payments[order.pk].combine_out_trade_no,
                },
            )
            for order in orders
        ]
    )
    sold = (
        OrderLine.objects.filter(order_id__in=ids, product_id=OuterRef("pk"))
        .values("product_id")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    Product.objects.filter(
        pk__in=OrderLine.objects.filter(order_id__in=ids, product_id__isnull=False).values("product_id")
    ).update(sales_count=F("sales_count") + Subquery(sold))
    people: dict[int, list[int]] = {}
    for shop_id, user_id in ShopMembership.objects.filter(
        shop_id__in={order.shop_id for order in orders}
    ).values_list("shop_id", "user_id"):
        people.setdefault(shop_id, []).append(user_id)
    from accounts.services import notification_deliver

    messages = []
    for order in orders:
        order.status, order.paid_at = S.PAID, paid_at
        messages += [
            outbox_message(handler=notification_deliver, payload=notice)
            for notice in _merchant_paid_notices(order, people.get(order.shop_id, []))
        ]
    # The merchants' notices and the `order_paid` announcement: one INSERT into the outbox for all.
    outbox_enqueue_many(messages + order_announcement_messages(signals.order_paid, orders=orders))


@transaction.atomic
def order_cancel(*, order_id: int, actor=None, buyer=None, reason: str = "") -> Order:
    """pending_payment → cancelled, returning the stock. Cancelling a cancelled order changes nothing.

    `buyer` (for buyer-initiated cancels) fences the order to its owner. Locks: the order, then the
    SKUs (through stock_return). The open payment at the provider is closed after commit by a task,
    outside any lock; a payment that still arrives later is refunded automatically.
    """
    order = _locked_order(order_id=order_id, buyer=buyer)
    if order.status == S.CANCELLED:
        return order
    if order.status != S.PENDING_PAYMENT:
        raise _refuse(order, pgettext("order action", "cancelled"))
    now = timezone.now()
    order.status = S.CANCELLED
    order.cancelled_at = now
    order.cancel_reason = (reason or _("Cancelled by the buyer"))[:200]
    order.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    stock_return(quantities=_line_quantities([order.pk]))
    order_event_log(
        order=order,
        kind=OrderEvent.Kind.CANCELLED,
        actor=actor,
        from_status=S.PENDING_PAYMENT,
        to_status=S.CANCELLED,
        note=order.cancel_reason,
    )
    _close_open_payments([order.pk])
    order_announce(signals.order_cancelled, orders=[order])
    return order


@transaction.atomic
def order_ship(
    *, order_id: int, actor, carrier: str, tracking_number: str, shop_ids: Iterable[int] | None = None
) -> Order:
    """paid → shipped with a carrier and tracking number; tells the buyer.

    `shop_ids` fences the order to the merchant's shops; a person `actor` needs the ship right
    (StaffPermissionDenied otherwise). Shipping again with the same tracking number
    changes nothing; shipping an order that is not paid (unpaid, cancelled, already shipped elsewhere)
    raises InvalidTransition.
    """
    carrier = (carrier or "").strip()
    tracking_number = (tracking_number or "").strip()
    if not carrier:
        raise DomainError(_("Enter the carrier."), field="carrier")
    if not tracking_number:
        raise DomainError(_("Enter the tracking number."), field="tracking_number")
    if len(carrier) > 40 or len(tracking_number) > 64:
        raise DomainError(_("Carrier or tracking number is too long."), field="tracking_number")
    order = _locked_order(order_id=order_id, shop_ids=shop_ids)
    if actor is not None:
        staff_require(user=actor, shop_id=order.shop_id, permission=StaffPermission.SHIP)
    if order.status == S.SHIPPED and order.tracking_number == tracking_number and order.carrier == carrier:
        return order
    if order.status != S.PAID:
        raise _refuse(order, pgettext("order action", "shipped"))
    if order.kind == Order.Kind.GIFT:
        raise InvalidTransition(
            _("Order %(number)s is a gift: each claimed copy ships as its own sub-order.")
            % {"number": order.number}
        )
    if order.refunded_fen >= order.total_fen:
        raise InvalidTransition(_("Order %(number)s was refunded in full.") % {"number": order.number})
    _refuse_shipping_while_money_is_open(order)
    order.status = S.SHIPPED
    order.carrier = carrier
    order.tracking_number = tracking_number
    order.shipped_at = timezone.now()
    order.save(update_fields=["status", "carrier", "tracking_number", "shipped_at"])
    order_event_log(
        order=order,
        kind=OrderEvent.Kind.SHIPPED,
        actor=actor,
        from_status=S.PAID,
        to_status=S.SHIPPED,
        note=f"{carrier} {tracking_number}",
        data={"carrier": carrier, "tracking_number": tracking_number},
    )
    notify_user(
        user_id=order.buyer_id,
        key=f"order-shipped:{order.pk}",
        kind="order_shipped",
        title=_("Your order %(number)s has shipped") % {"number": order.number},
        body=f"{carrier} {tracking_number}",
        url=buyer_order_url(order),
    )
    order_announce(signals.order_shipped, orders=[order])
    return order


def orders_ship_many(
    *, shipments: Iterable[tuple[int, str, str]], actor, shop_ids: Iterable[int] | None = None
) -> dict[int, DomainError | None]:
    """Ship each (order_id, carrier, tracking_number) on its own through order_ship, each in its own
    transaction: one refusal does not hold back the others. Returns, per order id, None when it is
    shipped (or was already, with that tracking number) or the DomainError that refused it."""
    shop_ids = list(shop_ids) if shop_ids is not None else None
    outcome: dict[int, DomainError | None] = {}
    for order_id, carrier, tracking_number in shipments:
        try:
            order_ship(
                order_id=order_id,
                actor=actor,
                carrier=carrier,
                tracking_number=tracking_number,
                shop_ids=shop_ids,
            )
            outcome[order_id] = None
        except DomainError as error:
            outcome[order_id] = error
    return outcome


@transaction.atomic
def order_confirm_receipt(*, order_id: int, buyer) -> Order:
    """shipped → received, by the buyer. Confirming again (or after completion) changes nothing."""
    order = _locked_order(order_id=order_id, buyer=buyer)
    if order.status in (S.RECEIVED, S.COMPLETED):
        return order
    if order.status != S.SHIPPED:
        raise _refuse(order, pgettext("order action", "received"))
    order.status = S.RECEIVED
    order.received_at = timezone.now()
    order.save(update_fields=["status", "received_at"])
    order_event_log(
        order=order, kind=OrderEvent.Kind.RECEIVED, actor=buyer, from_status=S.SHIPPED, to_status=S.RECEIVED
    )
    order_announce(signals.order_received, orders=[order])
    return order


@transaction.atomic
def order_complete(*, order_id: int, now: datetime | None = None) -> Order:
    """received → completed once the after-sales window has closed with no open request.

    Completing a completed order changes nothing; an order still inside its window, with an open
    after-sales request, or in another state raises InvalidTransition.
    """
    now = now or timezone.now()
    order = _locked_order(order_id=order_id)
    if order.status == S.COMPLETED:
        return order
    if order.status != S.RECEIVED or order.received_at > now - timedelta(days=settings.AFTER_SALES_DAYS):
        raise _refuse(order, pgettext("order action", "completed"))
    if AfterSalesRequest.objects.filter(order=order, status__in=OPEN_AFTER_SALES).exists():
        raise InvalidTransition(_("An after-sales request is still open."))
    _complete_batch([order.pk], now=now)
    order.refresh_from_db()
    return order


# --- periodic jobs (set-based) ----------------------------------------------------------------


def _line_quantities(order_ids: list[int]) -> dict[int, int]:
    rows = (
        OrderLine.objects.filter(order_id__in=order_ids, sku_id__isnull=False)
        .values("sku_id")
        .annotate(n=Sum("quantity"))
    )
    return {row["sku_id"]: row["n"] for row in rows}


def _close_open_payments(order_ids: list[int]) -> None:
    payment_ids = list(
        Payment.objects.filter(order_id__in=order_ids, status=Payment.Status.CREATED).values_list(
            "pk", flat=True
        )
    )
    if payment_ids:
        from shop.services.payments import payment_close

        outbox_enqueue_many(
            [outbox_message(handler=payment_close, payload={"payment_id": pk}) for pk in payment_ids]
        )


def _bulk_events(
    order_ids: list[int], *, kind: str, from_status: str, to_status: str, note: str = ""
) -> None:
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(order_id=order_id, kind=kind, from_status=from_status, to_status=to_status, note=note)
            for order_id in order_ids
        ]
    )


def orders_cancel_overdue(*, now: datetime | None = None, batch_size: int = JOB_BATCH_SIZE) -> int:
    """Cancel every unpaid order past its payment deadline, return its stock and tell the buyer.

    Never cancels an order the buyer paid: its open payments are first closed at the provider or,
    if the provider says paid, recorded as paid (`payments_close_overdue`).

    Batches of locked orders (rows another worker holds, e.g. a payment being recorded, are skipped
    and left for the next run); one UPDATE per batch re-checks the state. Returns orders cancelled.
    """
    from shop.services.payments import payments_close_overdue

    now = now or timezone.now()
    # First ask the provider, with no lock held: close each open payment there (so it can no longer
    # be paid), or record it as paid if it already was. Only orders left with no open payment are
    # cancelled below; one whose provider did not answer waits for the next run.
    payments_close_overdue(now=now)
    open_payment = Exists(Payment.objects.filter(order_id=OuterRef("pk"), status=Payment.Status.CREATED))
    total = 0
    while True:
        with transaction.atomic():
            locked = lock_ordered(
                Order.objects.filter(status=S.PENDING_PAYMENT, payment_deadline__lt=now)
                .exclude(open_payment)
                .only("pk"),
                limit=batch_size,
                skip_locked=True,
            )
            if not locked:
                return total
            reason = _("Not paid in time")
            # The rows are locked: no payment can start on them now (payment_start locks the order).
            ids = [order.pk for order in locked]
            Order.objects.filter(pk__in=ids, status=S.PENDING_PAYMENT).update(
                status=S.CANCELLED, cancelled_at=now, cancel_reason=reason
            )
            stock_return(quantities=_line_quantities(ids))
            _bulk_events(
                ids,
                kind=OrderEvent.Kind.CANCELLED,
                from_status=S.PENDING_PAYMENT,
                to_status=S.CANCELLED,
                note=reason,
            )
            for order_id, buyer_id, number in Order.objects.filter(pk__in=ids).values_list(
                "pk", "buyer_id", "number"
            ):
                notify_user(
                    user_id=buyer_id,
                    key=f"order-auto-cancelled:{order_id}",
                    kind="order_cancelled",
                    title=_("Order %(number)s was cancelled") % {"number": number},
                    body=_("It was not paid in time; the items went back on sale."),
                    url=reverse("shop:order-detail", args=[number]),
                )
            order_announce(signals.order_cancelled, order_ids=ids)
            total += len(ids)
        if len(locked) < batch_size:
            return total


def orders_auto_receive(*, now: datetime | None = None, batch_size: int = JOB_BATCH_SIZE) -> int:
    """Mark shipped orders received AUTO_RECEIVE_DAYS after shipping. Returns orders moved."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.AUTO_RECEIVE_DAYS)
    total = 0
    while True:
        with transaction.atomic():
            locked = lock_ordered(
                Order.objects.filter(status=S.SHIPPED, shipped_at__lt=cutoff).only("pk"),
                limit=batch_size,
                skip_locked=True,
            )
            ids = [order.pk for order in locked]
            if not ids:
                return total
            Order.objects.filter(pk__in=ids, status=S.SHIPPED).update(status=S.RECEIVED, received_at=now)
            _bulk_events(
                ids,
                kind=OrderEvent.Kind.RECEIVED,
                from_status=S.SHIPPED,
                to_status=S.RECEIVED,
                note=_("Received automatically"),
            )
            order_announce(signals.order_received, order_ids=ids)
            total += len(ids)
        if len(ids) < batch_size:
            return total


def _complete_batch(ids: list[int], *, now: datetime) -> list[int]:
    """Complete the locked orders `ids` that are still received and have no open after-sales request,
    checked again here, under the order locks, in a statement of its own: the query that picked the
    batch read an earlier snapshot, and a request opened (it locks the order first) and committed
    just before our lock would be invisible to it. Returns the ids completed."""
    open_request = AfterSalesRequest.objects.filter(order=OuterRef("pk"), status__in=OPEN_AFTER_SALES)
    done = list(
        Order.objects.filter(pk__in=ids, status=S.RECEIVED)
        .filter(~Exists(open_request))
        .values_list("pk", flat=True)
    )
    if not done:
        return []
    Order.objects.filter(pk__in=done).update(status=S.COMPLETED, completed_at=now)
    _bulk_events(done, kind=OrderEvent.Kind.COMPLETED, from_status=S.RECEIVED, to_status=S.COMPLETED)
    order_announce(signals.order_completed, order_ids=done)
    return done


def orders_complete_due(*, now: datetime | None = None, batch_size: int = JOB_BATCH_SIZE) -> int:
    """Complete received orders whose after-sales window (AFTER_SALES_DAYS from receipt) has closed
    and that have no open after-sales request. An open request holds completion back until it is
    decided. Returns orders completed."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.AFTER_SALES_DAYS)
    open_request = AfterSalesRequest.objects.filter(order=OuterRef("pk"), status__in=OPEN_AFTER_SALES)
    total = 0
    while True:
        with transaction.atomic():
            locked = lock_ordered(
                Order.objects.filter(status=S.RECEIVED, received_at__lt=cutoff)
                .filter(~Exists(open_request))
                .only("pk"),
                limit=batch_size,
                skip_locked=True,
            )
            ids = [order.pk for order in locked]
            if not ids:
                return total
            total += len(_complete_batch(ids, now=now))
        if len(ids) < batch_size:
            return total
