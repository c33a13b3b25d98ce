"""Reads shared by gifting's pages, API and admin.

Privacy is decided here, once: what the giver reads of a claim (`giver_claim_view`) has the
recipient's nickname, the claim time, the shipping stage and the thank-you note, never the
address, phone or tracking number; what a recipient reads of a gift (`recipient_gift_view`) has the
product, spec, message and giver's nickname, never a price.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from gifting.models import Gift, GiftClaim, GiftCopy, GiftEntry
from shop.models import SKU, Order, Refund
from shop.services.rawsql import column, instances_from_row, select_list


def share_url(gift: Gift) -> str:
    from gifting.services import gift_url

    return f"{settings.SITE_URL.rstrip('/')}{gift_url(gift)}"


def gifts_sent(user, *, limit: int = 100) -> list[Gift]:
    """The giver's newest gifts (at most `limit`), each with its product, SKU, order and claimed
    count: one statement written out once (building it through the ORM, with the count's subquery,
    cost the page more than running it)."""
    columns, sql = _gifts_sent_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, limit])
        rows = cursor.fetchall()
    gifts = []
    for row in rows:
        gift, product, sku, order = instances_from_row(columns, row[:-1])
        gift.product, gift.sku, gift.order, gift.claimed_count = product, sku, order, row[-1]
        gifts.append(gift)
    return gifts


@functools.lru_cache(maxsize=1)
def _gifts_sent_sql() -> tuple[tuple, str]:
    from shop.models import Product

    columns = (
        (Gift, tuple(field.attname for field in Gift._meta.concrete_fields)),
        (Product, ("id", "title")),
        (SKU, ("id", "product_id", "spec_label")),
        (Order, ("id", "number", "status", "total_fen")),
    )
    sql = (
        f"SELECT {select_list(columns)}, "
        f"(SELECT COUNT(*) FROM {GiftCopy._meta.db_table} c "
        f"WHERE c.gift_id = {column(Gift, 'id')} AND c.recipient_id IS NOT NULL) "
        f'FROM "{Gift._meta.db_table}" '
        f'JOIN "{Product._meta.db_table}" ON {column(Product, "id")} = {column(Gift, "product_id")} '
        f'JOIN "{SKU._meta.db_table}" ON {column(SKU, "id")} = {column(Gift, "sku_id")} '
        f'JOIN "{Order._meta.db_table}" ON {column(Order, "id")} = {column(Gift, "order_id")} '
        f"WHERE {column(Gift, 'giver_id')} = %s "
        f"ORDER BY {column(Gift, 'created_at')} DESC, {column(Gift, 'id')} DESC LIMIT %s"
    )
    return columns, sql


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


def claims_received(user, *, limit: int = 100) -> list[GiftClaim]:
    """The recipient's newest claims (at most `limit`), each with its gift, the gift's product and
    giver, the SKU and the sub-order: one statement written out once, as gifts_sent."""
    columns, sql = _claims_received_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, limit])
        rows = cursor.fetchall()
    claims = []
    for row in rows:
        claim, gift, product, giver, sku, order = instances_from_row(columns, row)
        gift.product, gift.giver = product, giver
        claim.gift, claim.sku, claim.order = gift, sku, order
        claims.append(claim)
    return claims


@functools.lru_cache(maxsize=1)
def _claims_received_sql() -> tuple[tuple, str]:
    from accounts.models import User
    from shop.models import Product

    columns = (
        (GiftClaim, tuple(field.attname for field in GiftClaim._meta.concrete_fields)),
        (Gift, ("id", "token", "giver_id", "product_id", "message")),
        (Product, ("id", "title")),
        (User, ("id", "phone", "nickname")),
        (SKU, ("id", "product_id", "spec_label")),
        (Order, ("id", "number", "status")),
    )
    sql = (
        f"SELECT {select_list(columns)} "
        f'FROM "{GiftClaim._meta.db_table}" '
        f'JOIN "{Gift._meta.db_table}" ON {column(Gift, "id")} = {column(GiftClaim, "gift_id")} '
        f'JOIN "{Product._meta.db_table}" ON {column(Product, "id")} = {column(Gift, "product_id")} '
        f'JOIN "{User._meta.db_table}" ON {column(User, "id")} = {column(Gift, "giver_id")} '
        f'JOIN "{SKU._meta.db_table}" ON {column(SKU, "id")} = {column(GiftClaim, "sku_id")} '
        f'JOIN "{Order._meta.db_table}" ON {column(Order, "id")} = {column(GiftClaim, "order_id")} '
        f"WHERE {column(GiftClaim, 'recipient_id')} = %s "
        f"ORDER BY {column(GiftClaim, 'created_at')} DESC, {column(GiftClaim, 'id')} DESC LIMIT %s"
    )
    return columns, sql


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


def _unclaimed_refund_sentence(gift: Gift) -> str:
    """What became of the refund of the unclaimed copies, as the giver should read it: the money is
    said to be back only once the provider has paid it back."""
    refunds = Refund.objects.filter(order_id=gift.order_id, source=Refund.Source.GIFT)
    statuses = set(refunds.values_list("status", flat=True))
    n = {"n": gift.refunded_copies}
    if statuses & {Refund.Status.PROCESSING, Refund.Status.ABNORMAL}:
        return _("%(n)s unclaimed copies are being refunded to you.") % n
    if Refund.Status.SUCCEEDED in statuses:  # a refund covers every copy owed when it is made
        return _("%(n)s unclaimed copies were refunded to you.") % n
    return _("The refund of %(n)s unclaimed copies did not go through yet; it is tried again by itself.") % n


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
            events.append((gift.expired_at, _unclaimed_refund_sentence(gift)))
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


_VISITOR_SQL = """
SELECT
  (SELECT json_build_object('id', c.id, 'thanks', c.thanks, 'number', o.number, 'spec_label', s.spec_label)
   FROM gifting_giftclaim c JOIN shop_order o ON o.id = c.order_id JOIN shop_sku s ON s.id = c.sku_id
   WHERE c.gift_id = %(gift)s AND c.recipient_id = %(user)s),
  CASE WHEN %(choices)s THEN
    (SELECT json_agg(json_build_object('id', s.id, 'spec_label', s.spec_label, 'stock', s.stock)
                     ORDER BY s.id)
     FROM shop_sku s WHERE s.product_id = %(product)s AND s.is_active AND s.price_fen = %(price)s) END,
  CASE WHEN %(choices)s THEN
    (SELECT json_agg(json_build_object('id', a.id, 'recipient_name', a.recipient_name, 'phone', a.phone,
                                       'province', a.province, 'city', a.city, 'district', a.district,
                                       'detail', a.detail) ORDER BY a.is_default DESC, a.id DESC)
     FROM accounts_address a WHERE a.user_id = %(user)s) END
"""


@dataclass(frozen=True)
class ClaimPageVisitor:
    """A signed-in visitor's own facts on a gift's claim page."""

    mine: dict | None  # their claim of this gift: id, thanks, sub-order number, spec label
    skus: list  # specs they may choose (same price), when they may still accept
    addresses: list  # their address book, default first, when they may still accept


def claim_page_visitor(*, gift: Gift, user, choices: bool) -> ClaimPageVisitor:
    """Their claim of the gift and, with `choices` (they may still accept), the specs at the price
    the giver paid and their addresses: one statement."""
    from types import SimpleNamespace

    from accounts.models import Address

    params = {
        "gift": gift.pk,
        "user": user.pk,
        "choices": choices,
        "product": gift.product_id,
        "price": gift.order_line.unit_price_fen,
    }
    with connection.cursor() as cursor:
        cursor.execute(_VISITOR_SQL, params)
        mine, skus, addresses = (
            json.loads(value) if isinstance(value, str) else value for value in cursor.fetchone()
        )
    skus = [SimpleNamespace(pk=row["id"], **row) for row in skus or []]
    if choices and not skus:
        skus = [gift.sku]
    return ClaimPageVisitor(
        mine=mine,
        skus=skus,
        addresses=[Address(user_id=user.pk, **row) for row in addresses or []],
    )
