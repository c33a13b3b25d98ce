"""Payments and refunds: the shop's side of the provider (WeChat Pay v3 or its sandbox).

Rules kept here:
- The payment notification is the only path to `paid` (`payment_notification_handle`). It is verified
  by the provider (signature, timestamp, decryption), its amount must equal the payment's, and it is
  idempotent by transaction id (unique (provider, transaction_id) backs it up).
- A payment that arrives for an order already cancelled (or otherwise not awaiting payment) is
  recorded and refunded automatically.
- No database lock is held across a provider call: rows are written in one short transaction and
  the provider is called after commit (prepay in the request, close and refund in Celery tasks with
  retries). Refunds (per line) live in shop.services.refunds.
- Lock order: the order row first, then the payment or refund, then SKUs.
"""

import logging
import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from outbox.services import outbox_enqueue_many, outbox_handler, outbox_message
from shop.models import Order, OrderEvent, Payment, Refund
from shop.payments import get_payment_provider
from shop.payments.base import (
    CombinedPaymentNotification,
    InvalidNotification,
    PaymentNotification,
    PaymentProviderError,
    PrepayResult,
    SubOrder,
    TransactionAlreadyPaid,
    TransactionNotFound,
    TransactionState,
)
from shop.services.errors import (
    AmountMismatch,
    InvalidTransition,
    OrderNotFound,
    PaymentExpired,
    UnknownPayment,
)
from shop.services.locking import lock_one, lock_ordered
from shop.services.orders import order_event_log, order_mark_paid, orders_mark_paid
from shop.services.refunds import (  # noqa: F401 (refund names kept here for callers)
    refund_create,
    refund_mark_failed,
    refund_notification_check,
    refund_notification_handle,
    refund_settle,
    refund_submit,
    refundable_fen,
)

logger = logging.getLogger(__name__)

REFUND_FINAL_FAILURES = {"CLOSED", "ABNORMAL"}


def _trade_number(prefix: str) -> str:
    # ≤ 32 characters as WeChat requires: prefix, local time to the second, 12 random hex digits.
    return f"{prefix}{timezone.localtime():%y%m%d%H%M%S}{secrets.token_hex(6)}"


# --- paying --------------------------------------------------------------------------------------


def _pending_orders_paid_together(*, order_id: int, buyer) -> list[Order]:
    """Lock and return the unpaid orders `order_id` is paid with: every order of its checkout still
    awaiting payment (one payment per checkout), in primary-key order; [] if it is not awaiting
    payment. Raises OrderNotFound for an order that is not the buyer's. Inside a transaction."""
    head = Order.objects.filter(pk=order_id, buyer=buyer).values_list("checkout_id", "status").first()
    if head is None:
        raise OrderNotFound()
    checkout_id, status = head
    if status != Order.Status.PENDING_PAYMENT:
        raise InvalidTransition(_("This order is not awaiting payment."))
    together = Order.objects.filter(pk=order_id)
    if checkout_id is not None:
        together = Order.objects.filter(buyer=buyer, checkout_id=checkout_id)
    orders = lock_ordered(
        together.filter(status=Order.Status.PENDING_PAYMENT).select_related("shop"), of=("self",)
    )
    if not any(order.pk == order_id for order in orders):  # paid or cancelled since the first read
        raise InvalidTransition(_("This order is not awaiting payment."))
    return orders


def payment_start(*, order_id: int, buyer, client_ip: str, return_url: str) -> PrepayResult:
    """Open (or reopen) the payment of an unpaid order at the provider; returns where to send the
    buyer. The order must belong to `buyer` and await payment before its deadline.

    One payment per checkout: the order is paid together with every other order of its checkout
    still awaiting payment, in one cashier trip (a WeChat Pay combined payment, 合单支付, with one
    sub-order per order, each with its own trade number, amount and refunds). A checkout with one
    unpaid order gets an ordinary payment.

    One short transaction locks the orders (primary-key order) and reuses their open payment (or
    creates one); the provider's prepay is called after commit, with no lock held. Prepay is
    idempotent per trade number, so calling this twice gives the same payment. An open payment the
    new one replaces (the checkout changed since: an order was cancelled) is closed after commit.
    """
    with transaction.atomic():
        orders = _pending_orders_paid_together(order_id=order_id, buyer=buyer)
        if any(order.payment_deadline <= timezone.now() for order in orders):
            raise PaymentExpired()
        open_payments = list(
            Payment.objects.filter(order__in=orders, status=Payment.Status.CREATED).order_by("pk")
        )
        wanted = {order.pk: order.total_fen for order in orders}
        chosen = _reusable_payments(open_payments, wanted)
        if chosen is None:
            provider_name = get_payment_provider().name
            combine_no = _trade_number("C") if len(orders) > 1 else ""
            chosen = [
                Payment(
                    order=order,
                    provider=provider_name,
                    out_trade_no=_trade_number("P"),
                    amount_fen=order.total_fen,
                    combine_out_trade_no=combine_no,
                )
                for order in orders
            ]
            Payment.objects.bulk_create(chosen)
        replaced = [payment.pk for payment in open_payments if payment not in chosen]
        if replaced:  # closed at the provider after commit, through the outbox (as for a cancel)
            outbox_enqueue_many(
                [outbox_message(handler=payment_close, payload={"payment_id": pk}) for pk in replaced]
            )
    provider = get_payment_provider()
    by_order = {order.pk: order for order in orders}
    if len(chosen) == 1:
        payment = chosen[0]
        order = by_order[payment.order_id]
        result = provider.prepay(
            out_trade_no=payment.out_trade_no,
            description=f"{order.shop.name} {order.number}",
            amount_fen=payment.amount_fen,
            client_ip=client_ip,
            expires_at=order.payment_deadline,
            return_url=return_url,
        )
    else:
        result = provider.combine_prepay(
            combine_out_trade_no=chosen[0].combine_out_trade_no,
            sub_orders=[
                SubOrder(
                    out_trade_no=payment.out_trade_no,
                    description=f"{by_order[payment.order_id].shop.name} {by_order[payment.order_id].number}",
                    amount_fen=payment.amount_fen,
                )
                for payment in chosen
            ],
            client_ip=client_ip,
            expires_at=min(order.payment_deadline for order in orders),
            return_url=return_url,
        )
    if result.prepay_id and any(payment.prepay_id != result.prepay_id for payment in chosen):
        chosen_ids = [payment.pk for payment in chosen]
        Payment.objects.filter(pk__in=chosen_ids).update(prepay_id=result.prepay_id[:64])
    return result


def _reusable_payments(open_payments: list[Payment], wanted: dict[int, int]) -> list[Payment] | None:
    """The open payment(s) that pay exactly the orders and amounts `wanted` ({order_id: fen}): one
    ordinary payment for a single order, or every sub-payment of one combined payment."""
    groups: dict[str, list[Payment]] = {}
    for payment in open_payments:
        key = payment.combine_out_trade_no or f"single:{payment.pk}"
        groups.setdefault(key, []).append(payment)
    for key, payments in groups.items():
        if key.startswith("single:") != (len(wanted) == 1):
            continue
        if {payment.order_id: payment.amount_fen for payment in payments} == wanted and len(payments) == len(
            wanted
        ):
            return sorted(payments, key=lambda payment: payment.order_id)
    return None


def payment_notification_handle(*, headers, body: bytes) -> Payment | None:
    """Handle a payment notification POSTed by the provider. Raises InvalidNotification (tampered,
    unsigned, stale), UnknownPayment or AmountMismatch, changing nothing; otherwise the payment is
    recorded (see `payment_record_success`). Non-success states are acknowledged and ignored."""
    notification = get_payment_provider().parse_payment_notification(headers=headers, body=body)
    if isinstance(notification, CombinedPaymentNotification):
        payments_record_combined(notification=notification)
        return None
    if not notification.succeeded:
        logger.info("payment %s notified as %s", notification.out_trade_no, notification.trade_state)
        return None
    return payment_record_success(notification=notification)


def payment_record_success(*, notification: PaymentNotification) -> Payment:
    """Record a verified successful payment; the order becomes `paid` (the only path there).

    Locks the order, then the payment. The same notification again (same transaction id) changes
    nothing. The amount must equal the payment's. If the order no longer awaits payment (cancelled
    in the meantime), the payment is kept and a full refund is started automatically.
    """
    found = (
        Payment.objects.filter(out_trade_no=notification.out_trade_no)
        .values_list("pk", "order_id", "combine_out_trade_no")
        .first()
    )
    if found is None:
        raise UnknownPayment()
    payment_id, order_id, combine_out_trade_no = found
    if combine_out_trade_no:
        return _record_sub_order_from_combined(payment_id=payment_id, notification=notification)
    with transaction.atomic():
        order = lock_one(Order.objects.filter(pk=order_id))
        payment = lock_one(Payment.objects.filter(pk=payment_id))
        if notification.amount_fen != payment.amount_fen:
            raise AmountMismatch(
                _("Paid %(paid)s fen but the payment is for %(due)s fen.")
                % {"paid": notification.amount_fen, "due": payment.amount_fen}
            )
        if payment.status == Payment.Status.SUCCEEDED:
            if payment.transaction_id != notification.transaction_id:
                logger.error(
                    "payment %s already succeeded as %s; ignoring transaction %s",
                    payment.out_trade_no,
                    payment.transaction_id,
                    notification.transaction_id,
                )
            return payment
        payment.status = Payment.Status.SUCCEEDED
        payment.transaction_id = notification.transaction_id
        payment.paid_at = notification.success_time or timezone.now()
        payment.payer_openid = notification.payer_openid[:128]
        try:
            with transaction.atomic():
                payment.save(
                    update_fields=["status", "provider", "transaction_id", "paid_at", "payer_openid"]
                )
        except IntegrityError:
            raise InvalidNotification("This transaction id was already used by another payment.") from None
        if order.status == Order.Status.PENDING_PAYMENT:
            order_mark_paid(order=order, payment=payment)
        else:
            _refund_late_payment(order=order, payment=payment)
    return payment


def _record_sub_order_from_combined(*, payment_id: int, notification: PaymentNotification) -> Payment:
    """A single-payment notification that names a sub-order of a combined payment. WeChat Pay reports
    those sub-orders only in the combined notification, so this one is not taken as money: the
    combined payment is asked about instead and recorded from the provider's answer (every paid
    sub-order, with the provider's own transaction ids). If the provider does not say this sub-order
    was paid, the notification is refused and nothing changes. Outside any transaction."""
    logger.warning(
        "single notification for %s, a sub-order of a combined payment; asking the provider",
        notification.out_trade_no,
    )
    payment = payment_record_from_query(payment=Payment.objects.get(pk=payment_id))
    if payment.status != Payment.Status.SUCCEEDED:
        raise InvalidNotification(
            _("This payment is part of a combined payment, which WeChat Pay does not report as paid.")
        )
    return payment


def payments_record_combined(*, notification: CombinedPaymentNotification) -> list[Payment]:
    """Record a verified combined payment: each paid sub-order's payment succeeds and its order
    becomes `paid` (still only through a notification or the provider's own query answer).

    Checked per sub-order: its payment exists and belongs to this combined payment, and the amount
    equals the payment's (AmountMismatch, or UnknownPayment / InvalidNotification, refuses the whole
    notification and changes nothing). Idempotent by transaction id: a sub-order already recorded is
    left alone, so the same notification again changes nothing. A sub-order whose order was
    cancelled meanwhile is recorded and refunded in full, as for a single payment.

    Set-based, so its cost does not grow with the number of shops: one read, then in one
    transaction the orders and payments locked (in that order, primary-key order each), one UPDATE
    of the payments and `orders_mark_paid` for the orders.
    """
    subs = {sub.out_trade_no: sub for sub in notification.sub_orders}
    found = list(Payment.objects.filter(out_trade_no__in=list(subs)).values_list("pk", "order_id"))
    if len(found) != len(subs):
        raise UnknownPayment()
    try:
        with transaction.atomic():
            orders = {o.pk: o for o in lock_ordered(Order.objects.filter(pk__in=[o for _p, o in found]))}
            payments = lock_ordered(Payment.objects.filter(pk__in=[p for p, _o in found]))
            newly_paid = []
            for payment in payments:
                sub = subs[payment.out_trade_no]
                if payment.combine_out_trade_no != notification.combine_out_trade_no:
                    raise InvalidNotification("A sub-order does not belong to this combined payment.")
                if sub.amount_fen != payment.amount_fen:
                    raise AmountMismatch(
                        _("Paid %(paid)s fen but the payment is for %(due)s fen.")
                        % {"paid": sub.amount_fen, "due": payment.amount_fen}
                    )
                if not sub.succeeded:
                    continue
                if payment.status == Payment.Status.SUCCEEDED:
                    if payment.transaction_id != sub.transaction_id:
                        logger.error(
                            "payment %s already succeeded as %s; ignoring transaction %s",
                            payment.out_trade_no,
                            payment.transaction_id,
                            sub.transaction_id,
                        )
                    continue
                payment.status = Payment.Status.SUCCEEDED
                payment.transaction_id = sub.transaction_id
                payment.paid_at = sub.success_time or timezone.now()
                payment.payer_openid = sub.payer_openid[:128]
                newly_paid.append(payment)
            if not newly_paid:
                return payments
            Payment.objects.bulk_update(newly_paid, ["status", "transaction_id", "paid_at", "payer_openid"])
            awaiting = [p for p in newly_paid if orders[p.order_id].status == Order.Status.PENDING_PAYMENT]
            orders_mark_paid(
                orders=[orders[payment.order_id] for payment in awaiting],
                paid_at=min(payment.paid_at for payment in newly_paid),
                payments={payment.order_id: payment for payment in awaiting},
            )
            for payment in newly_paid:
                if payment not in awaiting:
                    _refund_late_payment(order=orders[payment.order_id], payment=payment)
    except IntegrityError:
        raise InvalidNotification("This transaction id was already used by another payment.") from None
    return payments


def _refund_late_payment(*, order: Order, payment: Payment) -> None:
    """Money for an order no longer awaiting payment (cancelled meanwhile): kept, logged and
    refunded in full. The caller holds the order lock."""
    order_event_log(
        order=order,
        kind=OrderEvent.Kind.PAID_AFTER_CANCEL,
        from_status=order.status,
        to_status=order.status,
        note=_("Payment %(txn)s arrived after the order was %(status)s; refunding it.")
        % {"txn": payment.transaction_id, "status": order.get_status_display()},
    )
    refund_create(
        order=order,
        payment=payment,
        amount_fen=payment.amount_fen,
        source=Refund.Source.LATE_PAYMENT,
        reason=_("Order cancelled"),
    )


@outbox_handler
def payment_close(*, payment_id: int) -> Payment | None:
    """Close an unpaid payment at the provider (after a cancel, or before the cancel job cancels).
    Also the outbox handler that closes a cancelled order's payment after commit.

    Called outside any transaction: the provider is asked first, then the row is marked closed if it
    is still open. Once closed there, the payment can no longer be made. If the provider answers that
    it was already paid (WeChat ORDERPAID), its own query answer is recorded like a notification
    (`payment_record_success`): paid means paid, whether or not the notification came yet. Closing
    twice is fine. Raises PaymentProviderError (retried) when unreachable, leaving the row open.
    """
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.status != Payment.Status.CREATED:
        return payment
    provider = get_payment_provider()
    # A combined payment closes as a whole: every order paid with it is then paid afresh.
    closing = Payment.objects.filter(pk=payment.pk)
    if payment.combine_out_trade_no:
        closing = Payment.objects.filter(combine_out_trade_no=payment.combine_out_trade_no)
    try:
        if payment.combine_out_trade_no:
            provider.combine_close(
                combine_out_trade_no=payment.combine_out_trade_no,
                out_trade_nos=list(closing.order_by("pk").values_list("out_trade_no", flat=True)),
            )
        else:
            provider.close(out_trade_no=payment.out_trade_no)
    except TransactionNotFound:
        pass  # never opened at the provider (prepay failed or never called): nothing to close
    except TransactionAlreadyPaid:
        return payment_record_from_query(payment=payment)
    closing.filter(status=Payment.Status.CREATED).update(status=Payment.Status.CLOSED)
    payment.refresh_from_db()
    return payment


def payment_record_from_query(*, payment: Payment) -> Payment:
    """Ask the provider about `payment` and, if it was paid, record it exactly as its notification
    would (`payment_record_success`: amount-checked, idempotent by transaction id). Outside any
    transaction; for when the notification is late or lost."""
    provider = get_payment_provider()
    if payment.combine_out_trade_no:
        states = provider.combine_query(combine_out_trade_no=payment.combine_out_trade_no)
        paid = [s for s in states if s.trade_state in {"SUCCESS", "REFUND"} and s.transaction_id]
        if paid:
            payments_record_combined(
                notification=CombinedPaymentNotification(
                    combine_out_trade_no=payment.combine_out_trade_no,
                    sub_orders=tuple(_notification_from_state(state) for state in paid),
                    raw={},
                )
            )
        payment.refresh_from_db()
        return payment
    state = provider.query(out_trade_no=payment.out_trade_no)
    if state.trade_state not in {"SUCCESS", "REFUND"} or not state.transaction_id:
        logger.info("payment %s is %s at the provider", payment.out_trade_no, state.trade_state)
        return payment
    return payment_record_success(notification=_notification_from_state(state))


def _notification_from_state(state: TransactionState) -> PaymentNotification:
    """What the provider's query answer says about a paid transaction, as a notification would."""
    return PaymentNotification(
        out_trade_no=state.out_trade_no,
        transaction_id=state.transaction_id or "",
        amount_fen=state.amount_fen,
        payer_total_fen=state.amount_fen,
        trade_state="SUCCESS",
        success_time=None,
        payer_openid="",
        raw={},
    )


def payments_close_overdue(*, now: datetime) -> int:
    """First step of the cancel job: for every open payment of an order past its deadline, close it
    at the provider, or record it if the provider says it was paid (`payment_close`).

    One provider call per open payment, each outside any transaction, so no lock is held across a
    call. A payment the provider could not be asked about stays open, and its order stays unpaid
    (not cancelled) until a later run gets an answer. Returns payments that reached an answer.
    """
    payment_ids = list(
        Payment.objects.filter(
            status=Payment.Status.CREATED,
            order__status=Order.Status.PENDING_PAYMENT,
            order__payment_deadline__lt=now,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    answered = 0
    for payment_id in payment_ids:
        try:
            payment_close(payment_id=payment_id)
        except PaymentProviderError as error:
            logger.warning("payment %s: no answer from the provider (%s); next run", payment_id, error)
            continue
        answered += 1
    return answered


# --- refunding: shop.services.refunds (names kept here for callers) ------------------------------
