"""Refunds: money going back to the buyer, per line, from after-sales, from the merchant directly, for
a payment that arrived after cancellation, or for an unclaimed gift.

A refund names its lines (RefundLine: order line, units given back, amount in fen) and the part of the
shipping fee it returns; `Refund.amount_fen` is their sum. It is written in one transaction with the
order locked, submitted to the provider after commit (outbox handler `refund_submit`), and settles on the
provider's notification, on a synchronous SUCCESS, or when the reconcile job asks the provider. Only
settling moves `refunded_*` on the order and its lines, sends `order_refunded` and tells the buyer.

Rules kept here:
- Never more than was paid: a new refund fits in what is left of each line, of the shipping fee and of
  the payment, counting every refund that is processing, succeeded or abnormal (ABNORMAL money is held
  at the provider, not free to refund again). The order row lock serializes refunds of one order.
- Exact splits in integer fen. By units: `n` of a line's `q` units get `total * n // q`; the units
  that finish the line get what is left of it, so the parts add up to the line total. By amount (an
  order-level refund of X): each part (lines, then the shipping fee) gets
  floor(X * left_i / left_all); the fen still missing go one each to the parts with the largest
  remainders, ties to the earlier part (lower line id, shipping last). A refund of everything left
  gives back every unit too.
- Lock order: the order, then after-sales requests, then the payment and refunds, then SKUs (through
  `lock_ordered`). No lock is held while the provider is called.
- A paid order whose every line is refunded before it ships becomes `closed` (已关闭).
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from outbox.services import outbox_enqueue, outbox_handler
from shop import signals
from shop.models import AfterSalesRequest, Order, OrderEvent, OrderLine, Payment, Refund, RefundLine
from shop.payments import get_payment_provider
from shop.payments.base import (
    InvalidNotification,
    PaymentProviderError,
    PaymentRefused,
    RefundNotification,
    TransactionNotFound,
)
from shop.services.announce import order_announce
from shop.services.errors import AmountMismatch, InvalidTransition, RefundExceedsPaid, UnknownPayment
from shop.services.locking import lock_one
from shop.services.orders import (
    _locked_order,
    buyer_order_url,
    notify_user,
    order_event_log,
)
from shop.services.staff_permissions import StaffPermission, staff_require
from shop.services.stock import stock_return
from shop.services.sub_orders import moved_units, order_lines_open
from shop.templatetags.money import format_fen

logger = logging.getLogger(__name__)

S = Order.Status
RS = Refund.Status
# The provider's refund states that end a refund without money moving.
REFUND_CLOSED = "CLOSED"
REFUND_ABNORMAL = "ABNORMAL"
# Orders a merchant may refund: paid at some point and not yet fully refunded (completed included:
# a refund after completion is how a commission clawback happens).
MERCHANT_REFUNDABLE = (S.PAID, S.SHIPPED, S.RECEIVED, S.COMPLETED)


@dataclass(frozen=True)
class RefundLineSpec:
    """One line of a refund being asked for. `amount_fen` None: the units' share of the line (see the
    module's split rule). `quantity` 0 with an amount: money only (a price adjustment)."""

    line_id: int
    quantity: int = 0
    amount_fen: int | None = None


@dataclass(frozen=True)
class LineBalance:
    quantity_left: int
    fen_left: int


def _refund_number() -> str:
    # ≤ 64 characters as WeChat allows: R, local time to the second, 12 random hex digits.
    return f"R{timezone.localtime():%y%m%d%H%M%S}{secrets.token_hex(6)}"


# --- what is left ----------------------------------------------------------------------------------


def order_refund_balances(order: Order) -> tuple[dict[int, LineBalance], int]:
    """({line_id: units and fen not yet refunded or being refunded}, shipping fen left) of an order.
    Counts refunds that are processing, succeeded or abnormal. Three queries."""
    held = (
        RefundLine.objects.filter(refund__order=order, refund__status__in=Refund.HOLDING)
        .values("line_id")
        .annotate(quantity=Sum("quantity"), fen=Sum("amount_fen"))
    )
    held_by_line = {row["line_id"]: (row["quantity"], row["fen"]) for row in held}
    balances = {}
    rows = list(OrderLine.objects.filter(order=order).values_list("pk", "quantity", "total_fen"))
    # Units split off into sub-orders (claimed gift copies) are theirs to refund, not the parent's.
    moved = moved_units([row[0] for row in rows]) if order.kind == Order.Kind.GIFT else {}
    for line_id, quantity, total_fen in rows:
        taken_quantity, taken_fen = held_by_line.get(line_id, (0, 0))
        moved_quantity, moved_fen = moved.get(line_id, (0, 0))
        balances[line_id] = LineBalance(
            quantity - taken_quantity - moved_quantity, total_fen - taken_fen - moved_fen
        )
    shipping_taken = (
        Refund.objects.filter(order=order, status__in=Refund.HOLDING).aggregate(n=Sum("shipping_fen"))["n"]
        or 0
    )
    return balances, order.shipping_fen - shipping_taken


def refundable_fen(payment: Payment) -> int:
    """What is left of a payment after its refunds that are processing, succeeded or abnormal."""
    taken = (
        Refund.objects.filter(payment=payment, status__in=Refund.HOLDING).aggregate(n=Sum("amount_fen"))["n"]
        or 0
    )
    return payment.amount_fen - taken


def units_share_fen(*, line_total_fen: int, line_quantity: int, quantity: int, left: LineBalance) -> int:
    """The amount for `quantity` units of a line: `total * quantity // line_quantity`, and what is left
    of the line when these units are its last. No units, no money."""
    if quantity <= 0:
        return 0
    if quantity >= left.quantity_left:
        return left.fen_left
    return min(left.fen_left, line_total_fen * quantity // line_quantity)


def split_fen(amount_fen: int, weights: list[tuple[object, int]]) -> dict[object, int]:
    """Split `amount_fen` over (key, weight) parts in proportion, in integer fen, adding up exactly:
    floors first, then the missing fen one each to the largest remainders (ties: earlier part).
    No part gets more than its weight when amount_fen <= the sum of weights."""
    total = sum(weight for _key, weight in weights)
    if total <= 0:
        return {key: 0 for key, _weight in weights}
    shares = {}
    remainders = []
    for index, (key, weight) in enumerate(weights):
        shares[key], remainder = divmod(amount_fen * weight, total)
        remainders.append((-remainder, index, key))
    missing = amount_fen - sum(shares.values())
    for _remainder, _index, key in sorted(remainders)[:missing]:
        shares[key] += 1
    return shares


def _planned_lines(
    *, order: Order, lines: list[RefundLineSpec] | None, amount_fen: int | None, shipping_fen: int
) -> tuple[list[tuple[OrderLine, int, int]], int]:
    """Turn what was asked into [(order line, units, fen)] and shipping fen, checked against what is
    left. Raises RefundExceedsPaid or a DomainError naming the field."""
    balances, shipping_left = order_refund_balances(order)
    order_lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    planned: list[tuple[OrderLine, int, int]] = []
    if lines is None:
        # Order-level amount: split over what is left of every line and of the shipping fee.
        if amount_fen is None:
            raise RefundExceedsPaid(_("Name the lines or the amount to refund."), field="amount_fen")
        everything = sum(b.fen_left for b in balances.values()) + shipping_left
        amount_fen = int(amount_fen)
        if amount_fen <= 0 or amount_fen > everything:
            raise RefundExceedsPaid(field="amount_fen")
        weights = [(line_id, balances[line_id].fen_left) for line_id in sorted(balances)]
        weights.append(("shipping", shipping_left))
        shares = split_fen(amount_fen, weights)
        for line_id in sorted(balances):
            units = balances[line_id].quantity_left if amount_fen == everything else 0
            if shares[line_id] or units:
                planned.append((order_lines[line_id], units, shares[line_id]))
        return planned, shares["shipping"]
    seen = set()
    for spec in lines:
        line = order_lines.get(int(spec.line_id))
        if line is None or line.pk in seen:
            raise RefundExceedsPaid(_("Choose lines of this order, each once."), field="lines")
        seen.add(line.pk)
        left = balances[line.pk]
        quantity = int(spec.quantity or 0)
        if quantity < 0 or quantity > left.quantity_left:
            raise RefundExceedsPaid(
                _("%(title)s: choose between 0 and %(n)s units.")
                % {"title": line.title, "n": left.quantity_left},
                field="lines",
            )
        if spec.amount_fen is None:
            fen = units_share_fen(
                line_total_fen=line.total_fen, line_quantity=line.quantity, quantity=quantity, left=left
            )
        else:
            fen = int(spec.amount_fen)
        if fen < 0 or fen > left.fen_left:
            raise RefundExceedsPaid(
                _("%(title)s: at most %(amount)s is left to refund.")
                % {"title": line.title, "amount": format_fen(left.fen_left)},
                field="lines",
            )
        if fen or quantity:
            planned.append((line, quantity, fen))
    shipping_fen = int(shipping_fen or 0)
    if shipping_fen < 0 or shipping_fen > shipping_left:
        raise RefundExceedsPaid(
            _("At most %(amount)s of the shipping fee is left to refund.")
            % {"amount": format_fen(shipping_left)},
            field="shipping_fen",
        )
    return planned, shipping_fen


def order_payment(order: Order) -> Payment | None:
    """The succeeded payment that paid for the order (refunds go back through it); for a sub-order,
    its parent's."""
    paid_for = order.parent_order_id or order.pk
    return Payment.objects.filter(order_id=paid_for, status=Payment.Status.SUCCEEDED).order_by("pk").first()


def refund_event_data(refund: Refund, lines: list[RefundLine]) -> dict:
    """What a subscriber needs about a refund, as JSON: ids, source, amounts in fen and its lines."""
    return {
        "refund_id": refund.pk,
        "out_refund_no": refund.out_refund_no,
        "source": refund.source,
        "status": refund.status,
        "amount_fen": refund.amount_fen,
        "shipping_fen": refund.shipping_fen,
        "after_sales_id": refund.after_sales_id,
        "restock": refund.restock,
        "lines": [
            {
                "order_line_id": line.line_id,
                "sku_id": line.line.sku_id if line.line_id else None,
                "product_id": line.line.product_id if line.line_id else None,
                "quantity": line.quantity,
                "amount_fen": line.amount_fen,
            }
            for line in lines
        ],
    }


# --- creating ------------------------------------------------------------------------------------


def refund_create(
    *,
    order: Order,
    reason: str,
    source: str = Refund.Source.MERCHANT,
    payment: Payment | None = None,
    lines: list[RefundLineSpec] | None = None,
    amount_fen: int | None = None,
    shipping_fen: int = 0,
    after_sales: AfterSalesRequest | None = None,
    restock: bool = False,
    actor=None,
) -> Refund:
    """Write a Refund with its lines against the order's succeeded payment and submit it to the
    provider after commit (outbox handler `refund_submit`, recorded in this transaction, retried).
    The caller holds the order lock in its transaction; this locks the payment, then (when `restock`)
    the SKUs to put the units back.

    Either `lines` (units and/or amounts per line, plus `shipping_fen`) or `amount_fen` (split over
    the lines and the shipping fee by the module's rule). Refuses (RefundExceedsPaid) anything above
    what is left of a line, of the shipping fee or of the payment.
    """
    assert transaction.get_connection().in_atomic_block, "refund_create needs the caller's transaction"
    payment = payment or order_payment(order)
    if payment is None:
        raise RefundExceedsPaid(_("This order has no completed payment to refund."))
    payment = lock_one(Payment.objects.filter(pk=payment.pk))
    if payment.status != Payment.Status.SUCCEEDED:
        raise RefundExceedsPaid(_("This order has no completed payment to refund."))
    planned, shipping_fen = _planned_lines(
        order=order, lines=lines, amount_fen=amount_fen, shipping_fen=shipping_fen
    )
    total_fen = sum(fen for _line, _units, fen in planned) + shipping_fen
    if total_fen <= 0:
        raise RefundExceedsPaid(_("Choose something to refund."), field="amount_fen")
    if total_fen > refundable_fen(payment):
        raise RefundExceedsPaid(field="amount_fen")
    refund = Refund.objects.create(
        order=order,
        payment=payment,
        after_sales=after_sales,
        source=source,
        created_by=actor if getattr(actor, "pk", None) else None,
        out_refund_no=_refund_number(),
        amount_fen=total_fen,
        shipping_fen=shipping_fen,
        restock=bool(restock),
        reason=(reason or "")[:80],
    )
    refund_lines = RefundLine.objects.bulk_create(
        [RefundLine(refund=refund, line=line, quantity=units, amount_fen=fen) for line, units, fen in planned]
    )
    if restock:
        back: dict[int, int] = {}
        for line, units, _fen in planned:
            if line.sku_id and units:
                back[line.sku_id] = back.get(line.sku_id, 0) + units
        stock_return(quantities=back)
        if back:
            # Stock moved outside an order event: the cached parts showing it follow now (the
            # products' own: lists show no stock).
            from shop.catalog_cache import catalog_cache_invalidate

            catalog_cache_invalidate(
                product_ids=[line.product_id for line, units, _fen in planned if units and line.product_id],
                lists=False,
            )
    order_event_log(
        order=order,
        kind=OrderEvent.Kind.REFUND_REQUESTED,
        actor=actor,
        note=refund.out_refund_no,
        data=refund_event_data(refund, refund_lines),
    )
    outbox_enqueue(handler=refund_submit, payload={"refund_id": refund.pk})
    return refund


def order_refund(
    *,
    order_id: int,
    actor,
    reason: str,
    lines: list[RefundLineSpec] | None = None,
    amount_fen: int | None = None,
    shipping_fen: int = 0,
    full: bool = False,
    restock: bool = False,
    shop_ids=None,
) -> Refund:
    """A refund the merchant starts on any paid order (paid, shipped, received or completed), partial
    or full: `full` refunds everything left (every unit, the shipping fee); otherwise `lines` and/or
    `shipping_fen`, or an order-level `amount_fen`. `restock` puts the refunded units back on sale.
    `shop_ids` fences the order to the merchant's shops (others: OrderNotFound); `actor` needs the
    shop's "approve refunds" permission (shop/services/staff_permissions.py).

    Locks the order, then the payment, then SKUs. Every call is a new refund: the second of two
    identical calls is refused once nothing is left, never paid twice.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidTransition(_("Tell the buyer why you refund."), field="reason")
    with transaction.atomic():
        order = _locked_order(order_id=order_id, shop_ids=shop_ids)
        if actor is not None:
            staff_require(user=actor, shop_id=order.shop_id, permission=StaffPermission.APPROVE_REFUNDS)
        if order.status not in MERCHANT_REFUNDABLE:
            raise InvalidTransition(
                _("Order %(number)s is %(status)s: there is no payment to refund.")
                % {"number": order.number, "status": order.get_status_display()}
            )
        if order.kind == Order.Kind.GIFT:
            # Its units are claimed or refunded by the gift's own rules (whose lock a refund here
            # would bypass): unclaimed copies at expiry, claimed ones on their sub-orders.
            raise InvalidTransition(
                _(
                    "Order %(number)s is a gift: unclaimed copies are refunded when it expires, "
                    "claimed ones on their own sub-orders."
                )
                % {"number": order.number}
            )
        if full:
            balances, shipping_left = order_refund_balances(order)
            lines = [
                RefundLineSpec(line_id=line_id, quantity=b.quantity_left, amount_fen=b.fen_left)
                for line_id, b in sorted(balances.items())
                if b.quantity_left or b.fen_left
            ]
            shipping_fen, amount_fen = shipping_left, None
        return refund_create(
            order=order,
            reason=reason,
            source=Refund.Source.MERCHANT,
            lines=lines,
            amount_fen=amount_fen,
            shipping_fen=shipping_fen,
            restock=restock,
            actor=actor,
        )


# --- the provider's answers ----------------------------------------------------------------------


@outbox_handler
def refund_submit(*, refund_id: int) -> Refund | None:
    """Ask the provider for a processing refund (outbox handler), outside any transaction.

    Idempotent per out_refund_no at the provider; a refund already settled or failed is left alone.
    A refusal marks it failed; SUCCESS settles it now; ABNORMAL holds it for the reconcile job;
    otherwise the refund notification (or the reconcile job) settles it. Raises PaymentProviderError
    when the provider is unreachable (the outbox retries it).
    """
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None or refund.status != RS.PROCESSING:
        return refund
    try:
        result = get_payment_provider().refund(
            out_trade_no=refund.payment.out_trade_no,
            out_refund_no=refund.out_refund_no,
            amount_fen=refund.amount_fen,
            total_fen=refund.payment.amount_fen,
            reason=refund.reason,
        )
    except PaymentRefused as exc:
        return refund_mark_failed(out_refund_no=refund.out_refund_no, note=str(exc))
    Refund.objects.filter(pk=refund.pk, refund_id__isnull=True).update(refund_id=result.refund_id[:64])
    return refund_apply_provider_status(
        out_refund_no=refund.out_refund_no,
        provider_status=result.status,
        refund_id=result.refund_id,
        amount_fen=refund.amount_fen,
    )


def refund_apply_provider_status(
    *,
    out_refund_no: str,
    provider_status: str,
    refund_id: str = "",
    amount_fen: int | None = None,
    succeeded_at: datetime | None = None,
) -> Refund | None:
    """Act on what the provider says of a refund (answer, notification or query): SUCCESS settles,
    CLOSED fails, ABNORMAL holds the money and tells the merchant, PROCESSING waits."""
    if provider_status == "SUCCESS":
        found = (
            Refund.objects.filter(out_refund_no=out_refund_no).values_list("amount_fen", flat=True).first()
        )
        return refund_settle(
            out_refund_no=out_refund_no,
            refund_id=refund_id,
            amount_fen=found if amount_fen is None else amount_fen,
            succeeded_at=succeeded_at,
        )
    if provider_status == REFUND_CLOSED:
        return refund_mark_failed(out_refund_no=out_refund_no, note=provider_status)
    if provider_status == REFUND_ABNORMAL:
        return refund_mark_abnormal(out_refund_no=out_refund_no)
    Refund.objects.filter(out_refund_no=out_refund_no).update(provider_status=provider_status[:16])
    return Refund.objects.filter(out_refund_no=out_refund_no).first()


def refund_notification_handle(*, headers, body: bytes) -> Refund | None:
    """Handle a refund notification: verified by the provider, then acted on (see above)."""
    notification: RefundNotification = get_payment_provider().parse_refund_notification(
        headers=headers, body=body
    )
    refund_notification_check(notification=notification)
    return refund_apply_provider_status(
        out_refund_no=notification.out_refund_no,
        provider_status=notification.refund_status,
        refund_id=notification.refund_id,
        amount_fen=notification.amount_fen,
        succeeded_at=notification.success_time,
    )


def refund_notification_check(*, notification: RefundNotification) -> None:
    """A verified refund notification must be about one of our refunds and agree with it field by
    field: the refund's own payment (out_trade_no and transaction id), that refund's amount, and its
    provider refund id once we know it. Anything else raises InvalidNotification (the endpoint answers
    400 and logs it) before anything is written, whatever state the notification reports."""
    refund = Refund.objects.select_related("payment").filter(out_refund_no=notification.out_refund_no).first()
    if refund is None:
        raise UnknownPayment()
    expected = {
        "out_trade_no": refund.payment.out_trade_no,
        "transaction_id": refund.payment.transaction_id,
        "amount": refund.amount_fen,
        "refund_id": refund.refund_id or notification.refund_id,
    }
    given = {
        "out_trade_no": notification.out_trade_no,
        "transaction_id": notification.transaction_id,
        "amount": int(notification.amount_fen),
        "refund_id": notification.refund_id,
    }
    wrong = sorted(name for name in expected if expected[name] != given[name])
    if wrong:
        logger.warning(
            "refund notification for %s refused: %s differ (ours %s, theirs %s)",
            refund.out_refund_no,
            ", ".join(wrong),
            {name: expected[name] for name in wrong},
            {name: given[name] for name in wrong},
        )
        raise InvalidNotification(
            f"The refund notification does not match refund {refund.out_refund_no}: {', '.join(wrong)}."
        )


def _locked_refund(out_refund_no: str) -> tuple[Order, Refund]:
    found = Refund.objects.filter(out_refund_no=out_refund_no).values_list("pk", "order_id").first()
    if found is None:
        raise UnknownPayment()
    pk, order_id = found
    order = lock_one(Order.objects.filter(pk=order_id))
    refund = lock_one(Refund.objects.filter(pk=pk))
    return order, refund


def _all_lines_refunded(order: Order) -> bool:
    """Every unit of every line refunded (or, for a gift order, moved to a claim sub-order)."""
    if order.kind == Order.Kind.GIFT:
        return not order_lines_open(order)
    return (
        not OrderLine.objects.filter(order=order)
        .filter(refunded_quantity__lt=F("quantity"), refunded_fen__lt=F("total_fen"))
        .exists()
    )


def refund_settle(
    *, out_refund_no: str, refund_id: str, amount_fen: int, succeeded_at: datetime | None = None
) -> Refund:
    """Mark a refund succeeded and move the money on the order and its lines; sends order_refunded
    (order, refund, lines, data) and tells the buyer. A paid order whose every line is now refunded
    closes (order_closed).

    Locks the order, then the refund. Settling twice changes nothing (a replayed notification, or
    the notification and the reconcile job at once). The amount must equal the refund's
    (AmountMismatch otherwise). An after-sales refund closes its request as refunded.
    """
    with transaction.atomic():
        order, refund = _locked_refund(out_refund_no)
        if refund.status == RS.SUCCEEDED:
            return refund
        if int(amount_fen) != refund.amount_fen:
            raise AmountMismatch()
        refund.status = RS.SUCCEEDED
        refund.provider_status = "SUCCESS"
        refund.refund_id = refund.refund_id or (refund_id or "")[:64] or None
        refund.succeeded_at = succeeded_at or timezone.now()
        refund.save(update_fields=["status", "provider_status", "refund_id", "succeeded_at"])
        Order.objects.filter(pk=order.pk).update(refunded_fen=F("refunded_fen") + refund.amount_fen)
        order.refunded_fen += refund.amount_fen
        lines = list(RefundLine.objects.filter(refund=refund).select_related("line"))
        for refund_line in lines:
            OrderLine.objects.filter(pk=refund_line.line_id).update(
                refunded_quantity=F("refunded_quantity") + refund_line.quantity,
                refunded_fen=F("refunded_fen") + refund_line.amount_fen,
            )
        if refund.after_sales_id:
            AfterSalesRequest.objects.filter(pk=refund.after_sales_id).update(
                status=AfterSalesRequest.Status.REFUNDED
            )
        data = refund_event_data(refund, lines)
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.REFUNDED,
            from_status=order.status,
            to_status=order.status,
            note=refund.out_refund_no,
            data=data,
        )
        notify_user(
            # A sub-order's money was its parent's buyer's (a claimed gift: the giver's).
            user_id=(
                Order.objects.filter(pk=order.parent_order_id).values_list("buyer_id", flat=True).first()
                if order.parent_order_id
                else order.buyer_id
            ),
            key=f"refund-succeeded:{refund.pk}",
            kind="refund_succeeded",
            title=_("Refund of %(amount)s for order %(number)s succeeded")
            % {"amount": format_fen(refund.amount_fen), "number": order.number},
            body=_("The money goes back the way you paid."),
            url=buyer_order_url(order),
        )
        order_announce(signals.order_refunded, orders=[order], refund=refund, lines=lines, data=data)
        if order.status == S.PAID and _all_lines_refunded(order):
            _close(order)
    return refund


def _close(order: Order) -> None:
    """paid → closed: every line was refunded before shipping. Caller holds the order lock."""
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


def refund_mark_failed(*, out_refund_no: str, note: str = "") -> Refund | None:
    """The provider refused or closed the refund: mark it failed (once) and log it on the order. The
    amount becomes refundable again; an after-sales request stays approved for a retry. Units put
    back on sale when it was created stay there (the merchant's decision on the goods stands)."""
    with transaction.atomic():
        order, refund = _locked_refund(out_refund_no)
        if refund.status not in (RS.PROCESSING, RS.ABNORMAL):
            return refund
        refund.status = RS.FAILED
        if note == REFUND_CLOSED:
            refund.provider_status = REFUND_CLOSED
        refund.save(update_fields=["status", "provider_status"])
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.REFUND_FAILED,
            note=note[:300],
            data={
                "refund_id": refund.pk,
                "out_refund_no": refund.out_refund_no,
                "amount_fen": refund.amount_fen,
            },
        )
    return refund


def refund_mark_abnormal(*, out_refund_no: str) -> Refund | None:
    """The provider says ABNORMAL: the money is held there (e.g. the buyer's card was cancelled) until
    the merchant settles it on the provider's side. The refund keeps holding its amount (never
    refunded twice), the merchant is told, and the reconcile job keeps asking."""
    with transaction.atomic():
        order, refund = _locked_refund(out_refund_no)
        if refund.status != RS.PROCESSING:
            return refund
        refund.status = RS.ABNORMAL
        refund.provider_status = REFUND_ABNORMAL
        refund.save(update_fields=["status", "provider_status"])
        order_event_log(
            order=order,
            kind=OrderEvent.Kind.REFUND_ABNORMAL,
            data={
                "refund_id": refund.pk,
                "out_refund_no": refund.out_refund_no,
                "amount_fen": refund.amount_fen,
            },
        )
        from django.urls import reverse

        from shop.services.orders import merchant_user_ids

        for user_id in merchant_user_ids(order.shop_id):
            notify_user(
                user_id=user_id,
                key=f"refund-abnormal:{refund.pk}:{user_id}",
                kind="refund_abnormal",
                title=_("Refund %(amount)s of order %(number)s is abnormal")
                % {"amount": format_fen(refund.amount_fen), "number": order.number},
                body=_(
                    "WeChat Pay could not return the money to the buyer's account. Settle it in the "
                    "WeChat Pay merchant platform; the shop checks it again by itself."
                ),
                url=reverse("admin:shop_order_change", args=[order.pk]),
            )
    return refund


# --- reconciling ---------------------------------------------------------------------------------


def refunds_reconcile(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Beat: ask the provider about refunds whose outcome we have not heard (processing for longer
    than REFUND_RECONCILE_AFTER_MINUTES: a lost notification; or abnormal) and act on the answer.

    Outside any transaction while asking; each answer goes through the same idempotent settle / fail
    paths as a notification, so the job racing a notification, or two jobs at once, settle once.
    A refund never submitted (provider has none) is submitted again under its own out_refund_no,
    which the provider keeps idempotent: never a second refund. Returns refunds asked about.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.REFUND_RECONCILE_AFTER_MINUTES)
    due = list(
        Refund.objects.filter(
            Q(status=RS.PROCESSING, created_at__lt=cutoff) | Q(status=RS.ABNORMAL),
        )
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", "out_refund_no", "refund_id")[:batch_size]
    )
    provider = get_payment_provider()
    asked = 0
    for pk, out_refund_no, refund_id in due:
        Refund.objects.filter(pk=pk).update(checked_at=now)
        try:
            state = provider.query_refund(out_refund_no=out_refund_no)
        except TransactionNotFound:
            if not refund_id:
                # The provider never saw it (the submit task died): submit it again, same number.
                refund_submit(refund_id=pk)
                asked += 1
            continue
        except PaymentProviderError as exc:
            logger.warning("refund %s: could not ask the provider while reconciling: %s", out_refund_no, exc)
            continue
        if state.refund_id and not refund_id:
            Refund.objects.filter(pk=pk, refund_id__isnull=True).update(refund_id=state.refund_id[:64])
        refund_apply_provider_status(
            out_refund_no=out_refund_no,
            provider_status=state.status,
            refund_id=state.refund_id,
            amount_fen=state.amount_fen,
            succeeded_at=state.success_time,
        )
        asked += 1
    return asked
