"""Reads shared by gifting's pages, API and admin.

Privacy is decided here, once: what the giver reads of a claim (`giver_claim_view`) has the
recipient's nickname, the claim time, the shipping stage and the thank-you note, never the
address, phone or tracking number; what a recipient reads of a gift (`recipient_gift_view`) has the
product, spec, message and giver's nickname, never a price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from gifting.models import Gift, GiftClaim, GiftCopy, GiftEntry
from shop.models import SKU, Order, Refund


def share_url(gift: Gift) -> str:
    from gifting.services import gift_url

    return f"{settings.SITE_URL.rstrip('/')}{gift_url(gift)}"


def gifts_sent(user):
    """The giver's gifts, newest first, with what the lists show."""
    return (
        Gift.objects.filter(giver=user)
        .select_related("product", "sku", "order")
        .annotate(claimed_count=claimed_copies())
        .order_by("-created_at", "-id")
    )


def claimed_copies():
    """Claimed copies of each gift, as a subquery (the count is derived, never kept on the gift)."""
    return Coalesce(
        Subquery(
            GiftCopy.objects.filter(gift_id=OuterRef("pk"), recipient_id__isnull=False)
            .values("gift_id")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def claims_received(user):
    return (
        GiftClaim.objects.filter(recipient=user)
        .select_related("gift__product", "gift__giver", "sku", "order")
        .order_by("-created_at", "-id")
    )


def gift_of_giver(*, user, token: str) -> Gift | None:
    gift = (
        Gift.objects.filter(giver=user, token=token)
        .select_related("product", "sku", "order", "order_line")
        .prefetch_related(
            Prefetch(
                "claims",
                queryset=GiftClaim.objects.select_related("recipient", "sku", "order").order_by(
                    "created_at", "id"
                ),
            )
        )
        .first()
    )
    if gift is not None:
        gift.claimed_count = len(gift.claims.all())
    return gift


SHIPPING_STAGES = {
    Order.Status.PAID: "awaiting_shipment",
    Order.Status.SHIPPED: "shipped",
    Order.Status.RECEIVED: "delivered",
    Order.Status.COMPLETED: "delivered",
    Order.Status.CLOSED: "refunded",
}


def shipping_stage(order: Order) -> str:
    return SHIPPING_STAGES.get(order.status, "awaiting_shipment")


def shipping_stage_label(stage: str) -> str:
    return {
        "awaiting_shipment": _("waiting to be shipped"),
        "shipped": _("shipped"),
        "delivered": _("delivered"),
        "refunded": _("refunded"),
    }[stage]


@dataclass(frozen=True)
class GiverClaimView:
    """One claim as the giver sees it: no address, no phone, no tracking number."""

    id: int
    recipient_nickname: str
    spec_label: str
    claimed_at: datetime
    shipping: str
    shipping_label: str
    thanks: str
    thanked_at: datetime | None


def giver_claim_view(claim: GiftClaim) -> GiverClaimView:
    stage = shipping_stage(claim.order)
    return GiverClaimView(
        id=claim.pk,
        recipient_nickname=claim.recipient.display_name,
        spec_label=claim.sku.spec_label,
        claimed_at=claim.created_at,
        shipping=stage,
        shipping_label=shipping_stage_label(stage),
        thanks=claim.thanks,
        thanked_at=claim.thanked_at,
    )


def gift_refunded_fen(gift: Gift) -> int:
    return (
        Refund.objects.filter(
            order_id=gift.order_id, source=Refund.Source.GIFT, status__in=Refund.HOLDING
        ).aggregate(n=Sum("amount_fen"))["n"]
        or 0
    )


def gift_timeline(gift: Gift, claims: list[GiftClaim]) -> list[tuple[datetime, str]]:
    """The gift's story in sentences, oldest first: sent, opened, each acceptance, shipment,
    delivery and thank-you note, the draw, the refund of unclaimed copies."""
    order = gift.order
    events: list[tuple[datetime, str]] = []
    product = gift.product.title
    channel = gift.get_channel_display()
    if order.paid_at:
        events.append(
            (
                order.paid_at,
                _("You sent %(n)s × %(product)s on %(channel)s.")
                % {"n": gift.copies, "product": product, "channel": channel},
            )
        )
    else:
        events.append(
            (
                gift.created_at,
                _("You started a gift of %(n)s × %(product)s; it is sent once paid.")
                % {"n": gift.copies, "product": product},
            )
        )
    if gift.opened_at:
        events.append((gift.opened_at, _("Your link was opened for the first time.")))
    if gift.drawn_at:
        events.append((gift.drawn_at, _("The lucky draw took place.")))
    for claim in claims:
        name = claim.recipient.display_name
        events.append(
            (
                claim.created_at,
                _("%(name)s accepted a copy (%(spec)s).") % {"name": name, "spec": claim.sku.spec_label},
            )
        )
        if claim.order.shipped_at:
            events.append((claim.order.shipped_at, _("%(name)s's copy was shipped.") % {"name": name}))
        if claim.order.received_at:
            events.append((claim.order.received_at, _("%(name)s's copy was delivered.") % {"name": name}))
        if claim.thanked_at:
            events.append(
                (
                    claim.thanked_at,
                    _("%(name)s thanked you: “%(note)s”") % {"name": name, "note": claim.thanks},
                )
            )
    if gift.expired_at:
        if gift.refunded_copies:
            events.append(
                (
                    gift.expired_at,
                    _("%(n)s unclaimed copies were refunded to you.") % {"n": gift.refunded_copies},
                )
            )
        else:
            events.append((gift.expired_at, _("The gift closed.")))
    elif gift.status == Gift.Status.OPEN and gift.claim_deadline:
        events.append(
            (
                gift.claim_deadline,
                _("Copies not accepted by %(time)s will be refunded to you.")
                % {"time": f"{timezone.localtime(gift.claim_deadline):%Y-%m-%d %H:%M}"},
            )
        )
    return sorted(events, key=lambda event: event[0])


def draw_record(gift: Gift) -> dict:
    """What the giver needs to verify a lucky draw (gifting/draw.py)."""
    entries = list(GiftEntry.objects.filter(gift=gift).select_related("user").order_by("draw_key", "user_id"))
    return {
        "draw_at": gift.draw_at,
        "drawn_at": gift.drawn_at,
        "seed_sha256": gift.draw_seed_sha256,
        "seed": gift.draw_seed if gift.drawn_at else "",
        "entries": [
            {"user_id": e.user_id, "nickname": e.user.display_name, "key": e.draw_key, "won": e.won}
            for e in entries
        ],
    }


def gift_skus_for_recipient(gift: Gift) -> list[SKU]:
    """Specs the recipient may choose: active SKUs of the product at the price the giver paid (the
    price itself is not shown)."""
    price = gift.order_line.unit_price_fen
    return list(
        SKU.objects.filter(product_id=gift.product_id, is_active=True, price_fen=price).order_by("pk")
    ) or [gift.sku]
