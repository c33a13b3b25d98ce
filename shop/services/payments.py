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

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from outbox.services import outbox_handler
from shop.models import Order, OrderEvent, Payment, Refund
from shop.payments import get_payment_provider
from shop.payments.base import (
    InvalidNotification,
    PaymentNotification,
    PrepayResult,
    TransactionAlreadyPaid,
    TransactionNotFound,
)
from shop.services.errors import (
    AmountMismatch,
    InvalidTransition,
    OrderNotFound,
    PaymentExpired,
    UnknownPayment,
)
from shop.services.locking import lock_one
from shop.services.orders import order_event_log, order_mark_paid
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


def payment_start(*, order_id: int, buyer, client_ip: str, return_url: str) -> PrepayResult:
    """Open (or reopen) the payment of an unpaid order at the provider; returns where to send the
    buyer. The order must belong to `buyer` and await payment before its deadline.

    One short transaction locks the order and reuses its open payment (or creates one); the
    provider's prepay is called after commit, with no lock held. Prepay is idempotent per
    out_trade_no, so calling this twice gives the same payment.
    """
    with transaction.atomic():
        order = lock_one(Order.objects.filter(pk=order_id, buyer=buyer).select_related("shop"), of=("self",))
        if order is None:
            raise OrderNotFound()
        if order.status != Order.Status.PENDING_PAYMENT:
            raise InvalidTransition(_("This order is not awaiting payment."))
        if order.payment_deadline <= timezone.now():
            raise PaymentExpired()
        payment = (
            Payment.objects.filter(order=order, status=Payment.Status.CREATED, amount_fen=order.total_fen)
            .order_by("-pk")
            .first()
        )
        if payment is None:
            payment = Payment.objects.create(
                order=order,
                provider=get_payment_provider().name,
                out_trade_no=_trade_number("P"),
                amount_fen=order.total_fen,
            )
    provider = get_payment_provider()
    result = provider.prepay(
        out_trade_no=payment.out_trade_no,
        description=f"{order.shop.name} {order.number}",
        amount_fen=payment.amount_fen,
        client_ip=client_ip,
        expires_at=order.payment_deadline,
        return_url=return_url,
    )
    if result.prepay_id and payment.prepay_id != result.prepay_id:
        Payment.objects.filter(pk=payment.pk).update(prepay_id=result.prepay_id[:64])
    return result


def payment_notification_handle(*, headers, body: bytes) -> Payment | None:
    """Handle a payment notification POSTed by the provider. Raises InvalidNotification (tampered,
    unsigned, stale), UnknownPayment or AmountMismatch, changing nothing; otherwise the payment is
    recorded (see `payment_record_success`). Non-success states are acknowledged and ignored."""
    notification = get_payment_provider().parse_payment_notification(headers=headers, body=body)
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
        Payment.objects.filter(out_trade_no=notification.out_trade_no).values_list("pk", "order_id").first()
    )
    if found is None:
        raise UnknownPayment()
    payment_id, order_id = found
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
    return payment


@outbox_handler
def payment_close(*, payment_id: int) -> Payment | None:
    """Close an unpaid payment at the provider after its order was cancelled (outbox handler).

    Called outside any transaction: the provider is asked first, then the row is marked closed if it
    is still open. A payment the buyer paid meanwhile stays open; its notification records it and
    refunds it. Closing twice is fine. Raises PaymentProviderError (retried) when unreachable.
    """
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.status != Payment.Status.CREATED:
        return payment
    try:
        get_payment_provider().close(out_trade_no=payment.out_trade_no)
    except TransactionNotFound:
        pass  # never opened at the provider (prepay failed or never called): nothing to close
    except TransactionAlreadyPaid:
        logger.warning("payment %s was paid before it could be closed; awaiting its notification", payment)
        return payment
    Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(status=Payment.Status.CLOSED)
    payment.refresh_from_db()
    return payment


# --- refunding: shop.services.refunds (names kept here for callers) ------------------------------
