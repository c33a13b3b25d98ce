"""The shopper's order timeline in sentences (已付款 ¥184.00, 退款 ¥184.00 成功), built from the
OrderEvent rows and their data, never from raw ids or fen. Events written before events carried data
fall back to the name of their kind."""

from django.utils.translation import gettext as _

from shop.models import Order, OrderEvent
from shop.templatetags.money import format_fen

K = OrderEvent.Kind


def _amount(event: OrderEvent) -> str:
    amount = (event.data or {}).get("amount_fen")
    return format_fen(amount) if isinstance(amount, int) else ""


def event_sentence(event: OrderEvent, order: Order) -> str:
    """One event as a sentence for the buyer, in the active language."""
    data = event.data or {}
    amount = _amount(event)
    if order.kind == Order.Kind.GIFT_CLAIM:
        # A gift's recipient never reads what the giver paid.
        if event.kind == K.PAID:
            return _("Gift accepted")
        if event.kind in (K.REFUND_REQUESTED, K.REFUNDED, K.REFUND_FAILED, K.REFUND_ABNORMAL):
            return str(event.get_kind_display())
    if event.kind == K.SUB_ORDER:
        return _("A gift copy was accepted")
    if event.kind == K.PLACED:
        return _("Order placed, %(amount)s to pay") % {"amount": format_fen(order.total_fen)}
    if event.kind == K.PAID:
        return _("Paid %(amount)s") % {"amount": format_fen(order.total_fen)}
    if event.kind == K.PAID_AFTER_CANCEL:
        return _("Your payment arrived after the order was cancelled; it is being refunded")
    if event.kind == K.CANCELLED:
        return _("Cancelled: %(reason)s") % {"reason": event.note} if event.note else _("Cancelled")
    if event.kind == K.SHIPPED:
        return _("Shipped with %(tracking)s") % {"tracking": event.note} if event.note else _("Shipped")
    if event.kind == K.RECEIVED:
        return _("Receipt confirmed")
    if event.kind == K.COMPLETED:
        return _("Order completed")
    if event.kind == K.CLOSED:
        return _("Order closed: refunded in full before shipping")
    if event.kind == K.REFUND_REQUESTED and amount:
        return _("Refund of %(amount)s started") % {"amount": amount}
    if event.kind == K.REFUNDED and amount:
        return _("Refund of %(amount)s succeeded") % {"amount": amount}
    if event.kind == K.REFUND_FAILED and amount:
        return _("Refund of %(amount)s failed; the shop will try again") % {"amount": amount}
    if event.kind == K.REFUND_ABNORMAL and amount:
        return _("Refund of %(amount)s is held up at WeChat Pay; the shop is sorting it out") % {
            "amount": amount
        }
    if event.kind == K.AFTER_SALES_REQUESTED:
        return (
            _("You asked for after-sales: %(what)s") % {"what": event.note}
            if event.note
            else event.get_kind_display()
        )
    if event.kind == K.AFTER_SALES_APPROVED:
        if data.get("kind") == "return_refund":
            sentence = _("The shop approved your return: please send the goods back")
        else:
            sentence = _("The shop approved your after-sales request")
        return f"{sentence}. {event.note}" if event.note else sentence
    if event.kind == K.AFTER_SALES_REJECTED:
        sentence = _("The shop declined your after-sales request")
        return f"{sentence}: {event.note}" if event.note else sentence
    if event.kind == K.AFTER_SALES_WITHDRAWN:
        return _("You withdrew your after-sales request")
    if event.kind == K.AFTER_SALES_RETURN_SHIPPED:
        return _("You sent the goods back with %(tracking)s") % {"tracking": event.note}
    if event.kind == K.AFTER_SALES_RETURN_RECEIVED:
        return _("The shop received your return")
    if event.kind == K.AFTER_SALES_CLOSED:
        return _("After-sales closed: the goods were not sent back in time")
    return str(event.get_kind_display())


def order_timeline(order: Order) -> list[dict]:
    """[{when, kind, text}] for the order's events (prefetch `events` to keep it one query)."""
    return [
        {"when": event.created_at, "kind": event.kind, "text": event_sentence(event, order)}
        for event in order.events.all()
    ]


def _refund_reference(event: OrderEvent) -> str:
    number = (event.data or {}).get("out_refund_no")
    return _(" (refund no. %(number)s)") % {"number": number} if number else ""


def merchant_event_sentence(event: OrderEvent) -> str:
    """What the order log on the merchant's order page says about an event: refunds as sentences with
    their amount in yuan (the refund number only as a reference), other events as their note (a
    cancel reason, a tracking number, the buyer's after-sales reason)."""
    amount = _amount(event)
    note = event.note or ""
    if event.kind == K.REFUND_REQUESTED and amount:
        return _("Refund of %(amount)s started") % {"amount": amount} + _refund_reference(event)
    if event.kind == K.REFUNDED and amount:
        return _("Refund of %(amount)s succeeded") % {"amount": amount} + _refund_reference(event)
    if event.kind == K.REFUND_FAILED:
        if note == "CLOSED":
            reason = _("WeChat Pay closed the refund")
        elif note:
            reason = _("WeChat Pay refused it: %(message)s") % {"message": note}
        else:
            reason = _("WeChat Pay did not carry it out")
        sentence = _("Refund of %(amount)s failed: %(reason)s.") % {
            "amount": amount or _("money"),
            "reason": reason,
        }
        return (
            sentence
            + " "
            + _("The amount can be refunded again (an after-sales request can retry its refund).")
            + _refund_reference(event)
        )
    if event.kind == K.REFUND_ABNORMAL and amount:
        return _(
            "Refund of %(amount)s is held up at WeChat Pay (the buyer's account could not take it): "
            "settle it in the WeChat Pay merchant platform; the shop checks it again by itself."
        ) % {"amount": amount} + _refund_reference(event)
    return note
