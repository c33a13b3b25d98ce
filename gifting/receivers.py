"""Order events wake gifting up; the timers (gifting/tasks.py) do the same work anyway.

Receivers run in a worker after commit, through the shop's announcer (shop/services/announce.py)."""

from django.dispatch import receiver
from django.utils.translation import gettext as _

from shop import signals
from shop.models import Order


@receiver(signals.order_paid, dispatch_uid="gifting.open_paid_gift")
@receiver(signals.order_cancelled, dispatch_uid="gifting.cancel_unpaid_gift")
def follow_gift_order(sender, order, **kwargs):
    """A gift order paid (or cancelled unpaid): open (or cancel) its gift now, not at the next beat."""
    if order.kind != Order.Kind.GIFT:
        return
    from gifting.models import Gift
    from gifting.services import gifts_follow_orders

    gifts_follow_orders(gift_ids=list(Gift.objects.filter(order=order).values_list("pk", flat=True)))


@receiver(signals.order_shipped, dispatch_uid="gifting.tell_giver_shipped")
def tell_giver_shipped(sender, order, **kwargs):
    """A claimed copy shipped: the shop told the recipient (its buyer); tell the giver too, without
    the address or tracking details."""
    if order.kind != Order.Kind.GIFT_CLAIM:
        return
    from gifting.models import GiftClaim
    from gifting.services import giver_gift_url
    from shop.services.orders import notify_user

    claim = GiftClaim.objects.select_related("gift__product", "recipient").filter(order=order).first()
    if claim is None:
        return
    notify_user(
        user_id=claim.gift.giver_id,
        key=f"gift-shipped:{claim.pk}",
        kind="gift_shipped",
        title=_("Your gift to %(name)s has shipped") % {"name": claim.recipient.display_name},
        body=claim.gift.product.title,
        url=giver_gift_url(claim.gift),
    )
