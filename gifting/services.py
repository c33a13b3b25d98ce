"""Every change to gifts: giving, opening, joining a draw, claiming, thanking, and the timers.

Lock order (never the other way round): the recipient's user row (only when a new address is saved)
→ the gift row (the expiry job; claims never lock it) → the gift's copy rows → the gift's shop order
(FOR NO KEY UPDATE) → payment and refunds → SKUs. A claim takes one free copy row (SKIP LOCKED, so
claimers of one gift take different copies side by side); the expiry job closes every free copy,
waiting for claims that hold one, so each copy is claimed or refunded, never both.

Money never lives here: the gift is a shop order of kind `gift`; claims become shop sub-orders
(shop/services/sub_orders.py) and unclaimed copies go back through the shop's per-line refunds.
The timers are set-based and compare gifts with their order's claims and refunds, so running them
twice, or after a lost event, changes nothing the first run did not.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Friendship
from accounts.services import address_create, notification_deliver
from config.postgres.base import prepared_cursor
from gifting.draw import draw_seed_new, draw_winners
from gifting.errors import (
    GiftAllTaken,
    GiftAlreadyClaimed,
    GiftDrawClosed,
    GiftExpired,
    GiftFriendsOnly,
    GiftNotFound,
    GiftNotOpen,
    GiftNotWinner,
    GiftOwn,
    GiftPriceTooHigh,
    GiftSkuPriceDiffers,
    InvalidGift,
    NotGiftable,
)
from gifting.models import (
    MESSAGE_MAX_LENGTH,
    THANKS_MAX_LENGTH,
    Gift,
    GiftClaim,
    GiftCopy,
    GiftEntry,
    NonGiftableCategory,
)
from outbox.services import outbox_message
from shop.models import SKU, Order, Refund, ShopMembership
from shop.services.checkout import buyer_address, checkout_place
from shop.services.errors import NotPurchasable
from shop.services.locking import lock_ordered
from shop.services.orders import notify_user
from shop.services.rawsql import column, instances_from_row, select_list
from shop.services.refunds import RefundLineSpec, order_refund_balances, refund_create
from shop.services.sub_orders import order_close_if_settled, sub_order_create, sub_order_parent_close
from shop.templatetags.money import format_fen

G = Gift.Status
DRAW_HOURS_CHOICES = (1, 2, 6, 12)

logger = logging.getLogger(__name__)


def _token() -> str:
    # 24 URL-safe characters: 144 random bits, not guessable and not enumerable.
    return secrets.token_urlsafe(18)


def gift_url(gift: Gift) -> str:
    return reverse("gifting:claim", args=[gift.token])


def giver_gift_url(gift: Gift) -> str:
    return reverse("gifting:sent-detail", args=[gift.token])


# --- giving --------------------------------------------------------------------------------------


def sku_gift_check(sku: SKU) -> None:
    """Refuse a SKU that cannot be a gift: its category (or a parent category) is marked not
    giftable by the operator, or its price is above GIFT_MAX_PRICE."""
    category = sku.product.category
    blocked = set(NonGiftableCategory.objects.values_list("category_id", flat=True))
    while category is not None:
        if category.pk in blocked:
            raise NotGiftable(field="sku_id")
        category = category.parent
    if sku.price_fen > settings.GIFT_MAX_PRICE_FEN:
        raise GiftPriceTooHigh(
            _("Items above %(limit)s cannot be sent as gifts.")
            % {"limit": format_fen(settings.GIFT_MAX_PRICE_FEN)},
            field="sku_id",
        )


def product_giftable(product) -> bool:
    """Whether any SKU of the product may be a gift (for showing the 送给朋友 button)."""
    skus = [sku for sku in product.skus.all() if sku.is_active]
    for sku in skus:
        sku.product = product
        try:
            sku_gift_check(sku)
            return True
        except (NotGiftable, GiftPriceTooHigh):
            continue
    return False


def gift_create(
    *,
    giver,
    sku_id,
    copies=1,
    mode: str = Gift.Mode.FRIEND,
    message: str = "",
    channel: str = Gift.Channel.FRIEND_CHAT,
    friends_only: bool = False,
    draw_hours: int | None = None,
    checkout_id=None,
    checkout_context=None,
) -> Gift:
    """Place a gift order for `copies` of `sku_id` (no address) and the gift with its share token.
    The giver then pays the order as any other; the gift opens for claims when it is paid.

    Refuses (nothing written): a SKU not on sale, not giftable (NotGiftable), above GIFT_MAX_PRICE
    (GiftPriceTooHigh), a message over 100 characters, copies out of 1..GIFT_MAX_COPIES or more than
    one copy for one friend, an unknown mode or channel, a lucky draw without a valid draw time,
    too little stock (OutOfStock). `checkout_id` makes a repeated submit return the same gift.
    """
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX_LENGTH:
        raise InvalidGift(
            _("Keep the message to %(n)s characters.") % {"n": MESSAGE_MAX_LENGTH}, field="message"
        )
    if mode not in Gift.Mode.values:
        raise InvalidGift(_("Choose who the gift is for."), field="mode")
    if channel not in Gift.Channel.values:
        raise InvalidGift(_("Choose where you send it."), field="channel")
    try:
        copies = int(copies)
    except (TypeError, ValueError):
        raise InvalidGift(_("Enter a number of copies."), field="copies") from None
    if mode == Gift.Mode.FRIEND and copies != 1:
        raise InvalidGift(_("A gift for one friend is one copy."), field="copies")
    if not 1 <= copies <= settings.GIFT_MAX_COPIES:
        raise InvalidGift(
            _("Choose between 1 and %(n)s copies.") % {"n": settings.GIFT_MAX_COPIES}, field="copies"
        )
    if mode == Gift.Mode.DRAW:
        try:
            draw_hours = int(draw_hours)
        except (TypeError, ValueError):
            draw_hours = 0
        if draw_hours not in DRAW_HOURS_CHOICES or draw_hours >= settings.GIFT_CLAIM_HOURS:
            raise InvalidGift(_("Choose when the lucky draw takes place."), field="draw_hours")
    else:
        draw_hours = None
    sku = SKU.objects.select_related("product__category__parent", "product__shop").filter(pk=sku_id).first()
    if sku is None:
        raise NotPurchasable(field="sku_id")
    sku_gift_check(sku)
    with transaction.atomic():
        orders = checkout_place(
            buyer=giver,
            address_id=None,
            items=[(sku.pk, copies)],
            kind=Order.Kind.GIFT,
            checkout_id=checkout_id,
            checkout_context=checkout_context,
            max_quantity=settings.GIFT_MAX_COPIES,
        )
        order = orders[0]
        existing = Gift.objects.filter(order=order).first()
        if existing is not None:
            return existing
        seed, digest = draw_seed_new() if mode == Gift.Mode.DRAW else ("", "")
        gift = Gift.objects.create(
            token=_token(),
            giver=giver,
            order=order,
            order_line=order.lines.all()[0],
            product_id=sku.product_id,
            sku=sku,
            mode=mode,
            copies=copies,
            message=message,
            channel=channel,
            friends_only=bool(friends_only),
            # Until it is paid, `draw_at` holds the draw's delay; opening turns it into a time.
            draw_at=(timezone.now() + timedelta(hours=draw_hours)) if draw_hours else None,
            draw_seed=seed,
            draw_seed_sha256=digest,
        )
    return gift


# --- following the order ---------------------------------------------------------------------------

_OPEN_PAID_SQL = """
WITH opened AS (
    UPDATE gifting_gift AS g
    SET status = 'open',
        claim_deadline = o.paid_at + make_interval(hours => %(hours)s),
        draw_at = CASE WHEN g.draw_at IS NULL THEN NULL
                       ELSE o.paid_at + (g.draw_at - g.created_at) END
    FROM shop_order AS o
    WHERE g.order_id = o.id AND g.status = 'awaiting_payment' AND o.paid_at IS NOT NULL {extra}
    RETURNING g.id, g.copies
), made AS (
    INSERT INTO gifting_giftcopy (gift_id, number)
    SELECT opened.id, n FROM opened, generate_series(1, opened.copies) AS n
    ON CONFLICT DO NOTHING
)
SELECT COUNT(*) FROM opened
"""

_CANCEL_UNPAID_SQL = """
UPDATE gifting_gift AS g SET status = 'cancelled'
FROM shop_order AS o
WHERE g.order_id = o.id AND g.status = 'awaiting_payment' AND o.status = 'cancelled' {extra}
"""


def gifts_follow_orders(*, gift_ids: list[int] | None = None) -> int:
    """Set-based: gifts awaiting payment whose order is paid open for claims (claim deadline =
    paid + GIFT_CLAIM_HOURS; a draw's time moves with it) and get their copy rows, in one statement;
    those whose order was cancelled are cancelled. Idempotent. Returns gifts changed."""
    extra, params = "", {"hours": settings.GIFT_CLAIM_HOURS}
    if gift_ids is not None:
        extra, params["ids"] = "AND g.id = ANY(%(ids)s)", list(gift_ids)
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_PAID_SQL.format(extra=extra), params)
        changed = cursor.fetchone()[0]
        cursor.execute(_CANCEL_UNPAID_SQL.format(extra=extra), params)
        return changed + cursor.rowcount


def _gift_columns():
    from accounts.models import User
    from shop.models import OrderLine, Product

    return (
        (Gift, tuple(field.attname for field in Gift._meta.concrete_fields)),
        (Product, ("id", "shop_id", "title", "status")),
        (SKU, ("id", "product_id", "spec_label", "price_fen", "stock", "is_active")),
        (User, ("id", "phone", "nickname")),
        (
            OrderLine,
            ("id", "order_id", "sku_id", "product_id", "title", "spec_label", "image_url", "unit_price_fen")
            + ("quantity", "total_fen", "refunded_quantity", "refunded_fen", "attribution"),
        ),
        (Order, ("id", "number", "buyer_id", "shop_id", "kind", "status", "total_fen", "paid_at")),
    )


@functools.lru_cache(maxsize=2)
def _gift_sql(with_copies_left: bool = False) -> tuple[tuple, str]:
    """The gift of a token with its product, SKU, giver, order line and order, and the user ids of
    its shop's people (for the merchants' notices of a claim), in one statement written out (the
    claim's hot read; compiling it through the ORM costs more than running it)."""
    from accounts.models import User
    from shop.models import OrderLine, Product

    columns = _gift_columns()
    sql = (
        f"SELECT {select_list(columns)}, "
        f"ARRAY(SELECT DISTINCT m.user_id FROM {ShopMembership._meta.db_table} m "
        f"WHERE m.shop_id = {column(Order, 'shop_id')}) "
        + (
            f", (SELECT COUNT(*) FROM {GiftCopy._meta.db_table} c "
            f"WHERE c.gift_id = {column(Gift, 'id')} AND c.recipient_id IS NOT NULL) "
            if with_copies_left
            else ""
        )
        + f'FROM "{Gift._meta.db_table}" '
        f'JOIN "{Product._meta.db_table}" ON {column(Product, "id")} = {column(Gift, "product_id")} '
        f'JOIN "{SKU._meta.db_table}" ON {column(SKU, "id")} = {column(Gift, "sku_id")} '
        f'JOIN "{User._meta.db_table}" ON {column(User, "id")} = {column(Gift, "giver_id")} '
        f'JOIN "{OrderLine._meta.db_table}" ON {column(OrderLine, "id")} = {column(Gift, "order_line_id")} '
        f'JOIN "{Order._meta.db_table}" ON {column(Order, "id")} = {column(Gift, "order_id")} '
        f"WHERE {column(Gift, 'token')} = %s"
    )
    return columns, sql


def gift_by_token(token: str, *, with_copies_left: bool = False) -> Gift:
    """The gift behind a share token (GiftNotFound for anything else), with its product, SKU, giver,
    order line and order, brought up to date with its order first; `with_copies_left` counts its
    claimed copies in the same statement (for `copies_left`)."""
    token = (token or "").strip()
    if not token or len(token) > 32:
        raise GiftNotFound()
    columns, sql = _gift_sql(with_copies_left)
    with prepared_cursor() as cursor:  # six joins: planned once per connection
        cursor.execute(sql, [token])
        row = cursor.fetchone()
    if row is None:
        raise GiftNotFound()
    extra = 2 if with_copies_left else 1
    gift, product, sku, giver, line, order = instances_from_row(columns, row[:-extra])
    gift.merchant_ids = list(row[-extra])
    if with_copies_left:
        gift.claimed_count = row[-1]
    if isinstance(line.attribution, str):  # jsonb comes back as text from a raw cursor
        line.attribution = json.loads(line.attribution)
    sku.product = product
    gift.product, gift.sku, gift.giver, gift.order_line, gift.order = product, sku, giver, line, order
    if gift.status == G.AWAITING_PAYMENT and gifts_follow_orders(gift_ids=[gift.pk]):
        gift.refresh_from_db(fields=["status", "claim_deadline", "draw_at"])
    return gift


def gift_mark_opened(*, gift: Gift, user) -> None:
    """Record the first time someone other than the giver opened the link (for the timeline)."""
    if gift.opened_at is None and getattr(user, "pk", None) != gift.giver_id:
        now = timezone.now()
        if Gift.objects.filter(pk=gift.pk, opened_at__isnull=True).update(opened_at=now):
            gift.opened_at = now


# --- receiving -----------------------------------------------------------------------------------


def _check_may_receive(gift: Gift, user) -> None:
    if user.pk == gift.giver_id:
        raise GiftOwn()
    if gift.friends_only and not Friendship.objects.filter(user_id=gift.giver_id, friend_id=user.pk).exists():
        raise GiftFriendsOnly()


def _refuse_closed(gift: Gift, now: datetime) -> None:
    if gift.status == G.EXPIRED or (gift.status == G.OPEN and gift.claim_deadline <= now):
        raise GiftExpired()
    if gift.status == G.FINISHED:
        raise GiftAllTaken()
    if gift.status != G.OPEN:
        raise GiftNotOpen()


def gift_enter_draw(*, token: str, user) -> GiftEntry:
    """Join a lucky draw before it is drawn. Joining twice returns the first entry."""
    gift = gift_by_token(token)
    if gift.mode != Gift.Mode.DRAW:
        raise GiftNotOpen()
    _check_may_receive(gift, user)
    now = timezone.now()
    _refuse_closed(gift, now)
    with transaction.atomic():
        locked = lock_ordered(Gift.objects.filter(pk=gift.pk))[0]
        if locked.drawn_at is not None or locked.draw_at <= now:
            raise GiftDrawClosed()
        entry, _created = GiftEntry.objects.get_or_create(gift=gift, user=user)
    return entry


def _claim_address(*, recipient, address_id=None, address: dict | None = None) -> dict:
    if address_id not in (None, ""):
        found = buyer_address(buyer=recipient, address_id=address_id)  # None for a bad or foreign id
        if found is None:
            raise InvalidGift(_("Choose one of your addresses."), field="address_id")
    elif address:
        fields = ("recipient_name", "phone", "province", "city", "district", "detail")
        found = address_create(user=recipient, **{name: str(address.get(name) or "") for name in fields})
    else:
        raise InvalidGift(_("Choose or enter the address to send it to."), field="address_id")
    return {
        "recipient_name": found.recipient_name,
        "phone": found.phone,
        "province": found.province,
        "city": found.city,
        "district": found.district,
        "detail": found.detail,
    }


# Takes a free copy (locked until commit) and says how many other free copies it saw, counting at most
# FINISH_CHECK_BELOW of them: a claim that saw that many left need not try to finish the gift after its
# commit (see gift_finish_if_all_claimed).
_TAKE_COPY_SQL = """
WITH taken AS (
    UPDATE gifting_giftcopy SET recipient_id = %s, claimed_at = %s
    WHERE id = (
        SELECT c.id FROM gifting_giftcopy c
        WHERE c.gift_id = %s AND c.recipient_id IS NULL AND c.closed_at IS NULL
          AND EXISTS (SELECT 1 FROM gifting_gift g
                      WHERE g.id = %s AND g.status = 'open' AND g.claim_deadline > %s)
        ORDER BY c.number LIMIT 1 FOR UPDATE {skip}
    )
    RETURNING id, gift_id
)
SELECT taken.id, (SELECT COUNT(*) FROM (
    SELECT 1 FROM gifting_giftcopy f
    WHERE f.gift_id = taken.gift_id AND f.recipient_id IS NULL AND f.closed_at IS NULL AND f.id <> taken.id
    LIMIT %s) AS seen)
FROM taken
"""

FINISH_CHECK_BELOW = 64

_FINISH_SQL = """
UPDATE gifting_gift SET status = 'finished'
WHERE id = %(gift)s AND status = 'open'
  AND NOT EXISTS (SELECT 1 FROM gifting_giftcopy c
                  WHERE c.gift_id = %(gift)s AND c.recipient_id IS NULL AND c.closed_at IS NULL)
RETURNING order_id
"""


def _take_copy(*, gift: Gift, recipient, now: datetime) -> bool:
    """The first-come guard: take a free copy of the gift for `recipient`, locked until commit.
    Returns whether few enough free copies were left (FINISH_CHECK_BELOW) that this claim may have
    been the last, so that it should try to finish the gift once committed.

    First with SKIP LOCKED, so concurrent claimers each take another copy instead of queueing on
    one row. Finding none that way means every free copy is either gone or held by a claim still in
    flight (which may yet roll back, e.g. out of stock for its spec): only then does the claimer
    wait, on those copies in turn, and answer "all taken" (or "expired") once none is left free."""
    params = [recipient.pk, now, gift.pk, gift.pk, now, FINISH_CHECK_BELOW]
    with prepared_cursor() as cursor:
        for skip in ("SKIP LOCKED", ""):
            cursor.execute(_TAKE_COPY_SQL.format(skip=skip), params)
            row = cursor.fetchone()
            if row is not None:
                return row[1] < FINISH_CHECK_BELOW
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, claim_deadline FROM gifting_gift WHERE id = %s", [gift.pk])
        status, deadline = cursor.fetchone()
    if status == G.EXPIRED or (deadline is not None and deadline <= now):
        raise GiftExpired()
    if status in (G.OPEN, G.FINISHED):
        raise GiftAllTaken()
    raise GiftNotOpen()


def gift_finish_if_all_claimed(gift_id: int) -> bool:
    """After a claim's commit: an open gift with no free copy left becomes finished and its order
    closes (every unit moved to a sub-order). Run by every claimer once committed, so the last to
    commit sees every other claim; the beat job does it too (gifts_finish_claimed). Idempotent."""
    with connection.cursor() as cursor:
        cursor.execute(_FINISH_SQL, {"gift": gift_id})
        row = cursor.fetchone()
    if row is None:
        return False
    sub_order_parent_close(row[0])
    return True


def gift_claim(
    *, token: str, recipient, sku_id=None, address_id=None, address: dict | None = None
) -> GiftClaim:
    """Accept one copy: it becomes a paid shop sub-order for `recipient`, shipped to one of their
    addresses (`address_id`) or a new one (`address`, saved to their book), of the gift's SKU or
    another active SKU of the product at the price the giver paid (its stock moves atomically).

    Refuses, changing nothing: a bad token (GiftNotFound), the giver (GiftOwn), a non-friend of a
    friends-only gift, an expired gift, a second claim by the same person (GiftAlreadyClaimed, also
    when both arrive at once: the unique constraint decides), every copy gone (GiftAllTaken), a lucky
    draw not won (GiftNotWinner), a SKU at another price, no stock for the switched SKU (OutOfStock),
    a bad address.

    One transaction. Everything that can be read is read before it; the sub-order is written (two
    INSERTs, sub_order_create, the claim row among them: a second claim by the same person stops
    there); then a free copy row is taken (`_take_copy`, SKIP LOCKED: claimers of one gift never wait
    for each other while copies are left) and, for another spec, one unit of stock moves. No row is
    shared by the claimers but the SKU of a switched spec. After commit, the claimer that took the
    last copy finishes the gift and closes its order (gift_finish_if_all_claimed).
    """
    gift = gift_by_token(token)
    _check_may_receive(gift, recipient)
    now = timezone.now()
    _refuse_closed(gift, now)
    if gift.mode == Gift.Mode.DRAW:
        won = GiftEntry.objects.filter(gift=gift, user=recipient).values_list("won", flat=True).first()
        if not won:
            raise GiftNotWinner()
    target = None
    if sku_id not in (None, "") and str(sku_id) != str(gift.sku_id):
        target = (
            SKU.objects.filter(pk=sku_id, product_id=gift.product_id, is_active=True).first()
            if str(sku_id).isdigit()
            else None
        )
        if target is None:
            raise InvalidGift(_("Choose a spec of this product."), field="sku_id")
        if target.price_fen != gift.order_line.unit_price_fen:
            raise GiftSkuPriceDiffers(field="sku_id")
    shipping = None
    if address_id not in (None, ""):
        shipping = _claim_address(recipient=recipient, address_id=address_id)
    elif not address:
        raise InvalidGift(_("Choose or enter the address to send it to."), field="address_id")
    claims: list[GiftClaim] = []

    def claim_row(order):
        claims.append(
            GiftClaim(gift=gift, recipient=recipient, order=order, sku=target or gift.sku, created_at=now)
        )
        return claims

    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        claims.clear()
        try:
            near_the_end = _claim_once(gift, recipient, target, shipping, address, claim_row, now)
            break
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != "40P01" or attempt == DEADLOCK_ATTEMPTS:
                raise
            logger.warning("gift %s: a claim met a deadlock and is tried again (%s)", gift.pk, attempt)
    try:
        if near_the_end:  # with more copies left than claims can be in flight, this was not the last
            gift_finish_if_all_claimed(gift.pk)
    except OperationalError:  # the claim stands; the beat (gifts_finish_claimed) finishes the gift
        logger.warning("gift %s: finishing after a claim failed; left to the beat", gift.pk, exc_info=True)
    claim = claims[0]
    claim.gift = gift
    return claim


DEADLOCK_ATTEMPTS = 3


def _claim_once(gift, recipient, target, shipping, address, claim_row, now) -> bool:
    """The claim's one transaction (see gift_claim): rolled back whole on any error. Returns what
    `_take_copy` said: whether the claim should try to finish the gift after its commit."""
    near_the_end = []
    try:
        with transaction.atomic():
            if shipping is None:
                shipping = _claim_address(recipient=recipient, address=address)
            sub_order_create(
                parent=gift.order,
                parent_line=gift.order_line,
                buyer=recipient,
                sku=target,
                address=shipping,
                note=(_("Gift. Message: %(message)s") % {"message": gift.message})
                if gift.message
                else _("Gift"),
                actor=recipient,
                merchant_ids=gift.merchant_ids,
                rows_for=claim_row,
                reserve_unit=lambda: near_the_end.append(_take_copy(gift=gift, recipient=recipient, now=now)),
                messages=[
                    outbox_message(
                        handler=notification_deliver,
                        payload={
                            "user_id": gift.giver_id,
                            # One notice per recipient and gift (a claim's id is not known yet).
                            "key": f"gift-accepted:{gift.pk}:{recipient.pk}",
                            "kind": "gift_accepted",
                            "title": str(_("%(name)s accepted your gift") % {"name": recipient.display_name}),
                            "body": gift.product.title,
                            "url": giver_gift_url(gift),
                        },
                    )
                ],
            )
    except IntegrityError as error:
        if "one_claim_per_person" in str(error) or "gift_copy_one_per_person" in str(error):
            raise GiftAlreadyClaimed() from None
        raise
    return near_the_end[0]


def gift_thank(*, claim_id: int, recipient, note: str) -> GiftClaim:
    """The recipient's thank-you note to the giver (may be changed; the giver is told once)."""
    note = (note or "").strip()
    if not note:
        raise InvalidGift(_("Write a few words."), field="note")
    if len(note) > THANKS_MAX_LENGTH:
        raise InvalidGift(_("Keep it to %(n)s characters.") % {"n": THANKS_MAX_LENGTH}, field="note")
    with transaction.atomic():
        claim = (
            GiftClaim.objects.select_for_update(of=("self",))
            .select_related("gift")
            .filter(pk=claim_id, recipient=recipient)
            .first()
        )
        if claim is None:
            raise GiftNotFound()
        first = not claim.thanks
        claim.thanks, claim.thanked_at = note, timezone.now()
        claim.save(update_fields=["thanks", "thanked_at"])
        if first:
            notify_user(
                user_id=claim.gift.giver_id,
                key=f"gift-thanks:{claim.pk}",
                kind="gift_thanks",
                title=_("%(name)s thanked you for your gift") % {"name": recipient.display_name},
                body=note,
                url=giver_gift_url(claim.gift),
            )
    return claim


# --- timers (beat) -------------------------------------------------------------------------------


def gifts_draw_due(*, now: datetime | None = None) -> int:
    """Draw every lucky draw whose time has come (once: a drawn gift is skipped). Winners and the
    others are told. Returns gifts drawn."""
    now = now or timezone.now()
    drawn = 0
    due = Gift.objects.filter(status=G.OPEN, mode=Gift.Mode.DRAW, drawn_at__isnull=True, draw_at__lte=now)
    for gift_id in list(due.values_list("pk", flat=True)[:200]):
        with transaction.atomic():
            locked = lock_ordered(Gift.objects.filter(pk=gift_id, drawn_at__isnull=True), skip_locked=True)
            if not locked:
                continue
            gift = locked[0]
            entries = list(GiftEntry.objects.filter(gift=gift))
            keys, winners = draw_winners(
                seed=gift.draw_seed,
                token=gift.token,
                user_ids=[e.user_id for e in entries],
                copies=gift.copies,
            )
            for entry in entries:
                entry.draw_key, entry.won = keys[entry.user_id], entry.user_id in winners
            GiftEntry.objects.bulk_update(entries, ["draw_key", "won"])
            gift.drawn_at = now
            gift.save(update_fields=["drawn_at"])
            for entry in entries:
                notify_user(
                    user_id=entry.user_id,
                    key=f"gift-draw:{gift.pk}:{entry.user_id}",
                    kind="gift_draw",
                    title=_("You won the lucky draw: accept your gift")
                    if entry.won
                    else _("The lucky draw is over; you did not win this time"),
                    body=gift.product.title,
                    url=gift_url(gift),
                )
            drawn += 1
    return drawn


def gifts_remind(*, now: datetime | None = None) -> int:
    """Tell givers once, GIFT_REMIND_HOURS before the deadline, that copies are still unclaimed."""
    now = now or timezone.now()
    soon = now + timedelta(hours=settings.GIFT_REMIND_HOURS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE gifting_gift g SET reminded_at = %s WHERE status = 'open' AND reminded_at IS NULL "
                "AND claim_deadline <= %s AND claim_deadline > %s RETURNING id, token, giver_id, "
                "(SELECT COUNT(*) FROM gifting_giftcopy c WHERE c.gift_id = g.id "
                "AND c.recipient_id IS NULL AND c.closed_at IS NULL), claim_deadline",
                [now, soon, now],
            )
            rows = cursor.fetchall()
        for gift_id, token, giver_id, left, deadline in rows:
            if not left:
                continue
            notify_user(
                user_id=giver_id,
                key=f"gift-expiring:{gift_id}",
                kind="gift_expiring",
                title=_("%(n)s copies of your gift are not claimed yet") % {"n": left},
                body=_("Unclaimed copies are refunded to you at %(time)s.")
                % {"time": f"{timezone.localtime(deadline):%Y-%m-%d %H:%M}"},
                url=reverse("gifting:sent-detail", args=[token]),
            )
    return len(rows)


def _refund_unclaimed(gift: Gift, order: Order) -> tuple[Refund | None, int]:
    """Refund the units of the gift's line neither moved to a sub-order nor refunded (or being
    refunded), as the shop's own balances count them, with their stock returned. The caller holds
    the gift and order locks. Returns the refund, if any, and the units it covers."""
    if order.status != Order.Status.PAID:
        return None, 0
    balances, _shipping = order_refund_balances(order)
    left = balances[gift.order_line_id].quantity_left
    if left <= 0:
        return None, 0
    # The unclaimed units go back on sale once, with the first refund of them: one the provider
    # refused keeps its restock (shop.services.refunds.refund_mark_failed), so a retry adds none.
    restocked = Refund.objects.filter(order=order, source=Refund.Source.GIFT, restock=True).exists()
    refund = refund_create(
        order=order,
        reason=_("Unclaimed gift copies"),
        source=Refund.Source.GIFT,
        lines=[RefundLineSpec(line_id=gift.order_line_id, quantity=left)],
        restock=not restocked,
    )
    return refund, left


def gift_expire(*, gift_id: int, now: datetime | None = None) -> Refund | None:
    """Close one gift past its claim deadline: its free copies are closed (waiting for claims that
    hold one to finish, so each copy ends claimed or closed, never both), then the units of its line
    neither claimed nor already refunded (the shop's own balances) get one partial refund with their
    stock returned, and the giver is told. Locks the gift row, its free copies, then the order.

    Idempotent: a gift already expired, or with nothing left to refund, gets no second refund. A
    refund the provider refuses is tried again by gifts_refund_retry. Returns the refund made, if any.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_ordered(
            Gift.objects.filter(pk=gift_id, status=G.OPEN, claim_deadline__lte=now).select_related("product"),
            no_key=True,
        )
        if not locked:
            return None
        gift = locked[0]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE gifting_giftcopy SET closed_at = %s "
                "WHERE gift_id = %s AND recipient_id IS NULL AND closed_at IS NULL",
                [now, gift.pk],
            )
            closed = cursor.rowcount
        # NO KEY: claims in flight hold KEY SHARE on it through their sub-order's foreign key.
        order = lock_ordered(Order.objects.filter(pk=gift.order_id), no_key=True)[0]
        refund, left = _refund_unclaimed(gift, order)
        gift.status = G.EXPIRED if closed else G.FINISHED
        gift.expired_at, gift.refunded_copies = now, gift.refunded_copies + closed
        gift.save(update_fields=["status", "expired_at", "refunded_copies"])
        if not closed:
            order_close_if_settled(order)
        if refund is not None:
            notify_user(
                user_id=gift.giver_id,
                key=f"gift-refunded:{gift.pk}",
                kind="gift_refunded",
                title=_("%(n)s unclaimed copies of your gift are refunded") % {"n": left},
                body=_("%(amount)s goes back the way you paid.") % {"amount": format_fen(refund.amount_fen)},
                url=giver_gift_url(gift),
            )
    return refund


# A refund of unclaimed copies the provider refused (or closed) is tried again after
# GIFT_REFUND_RETRY_MINUTES, then twice as long after each further failure, at most
# GIFT_REFUND_RETRY_MAX_MINUTES apart, for as long as the copies are owed.
def _retry_minutes() -> tuple[int, int]:
    return settings.GIFT_REFUND_RETRY_MINUTES, settings.GIFT_REFUND_RETRY_MAX_MINUTES


_OWED_SQL = """
SELECT g.id, f.failures, f.last_failed_at
FROM gifting_gift g
JOIN shop_order o ON o.id = g.order_id
JOIN shop_orderline l ON l.id = g.order_line_id
CROSS JOIN LATERAL (
    SELECT COUNT(*) AS failures, MAX(r.created_at) AS last_failed_at FROM shop_refund r
    WHERE r.order_id = g.order_id AND r.source = 'gift' AND r.status = 'failed'
) f
WHERE g.status = 'expired' AND o.status = 'paid' {extra}
  AND l.quantity
      - COALESCE((SELECT SUM(x.quantity) FROM shop_refundline x JOIN shop_refund r ON r.id = x.refund_id
                  WHERE x.line_id = l.id AND r.status IN ('processing', 'succeeded', 'abnormal')), 0)
      - COALESCE((SELECT SUM(m.quantity) FROM shop_orderline m JOIN shop_order s ON s.id = m.order_id
                  WHERE s.parent_line_id = l.id), 0) > 0
ORDER BY g.id
"""


def gifts_refund_owed(*, gift_ids: list[int] | None = None) -> list[dict]:
    """Expired gifts whose order is still paid and whose line still has units neither claimed nor
    refunded nor being refunded: copies owed back to the giver because their refund failed.
    Each: gift id, failed refunds so far, when the last was made, when it is tried again."""
    extra, params = "", []
    if gift_ids is not None:
        extra, params = "AND g.id = ANY(%s)", [list(gift_ids)]
    with connection.cursor() as cursor:
        cursor.execute(_OWED_SQL.format(extra=extra), params)
        rows = cursor.fetchall()
    first, most = _retry_minutes()
    owed = []
    for gift_id, failures, last_failed_at in rows:
        wait = min(most, first * 2 ** min(max(failures - 1, 0), 16))
        retry_at = last_failed_at + timedelta(minutes=wait) if last_failed_at else None
        owed.append(
            {"gift_id": gift_id, "failures": failures, "last_failed_at": last_failed_at, "retry_at": retry_at}
        )
    return owed


def gifts_refund_retry(*, now: datetime | None = None) -> int:
    """Beat: refund again the unclaimed copies of expired gifts whose refund the provider refused,
    once their wait is over (gifts_refund_owed). Set-based and idempotent: what is refunded is
    what the shop's balances say is still owed, under the gift and order locks, so two runs at once
    or a run after a refund finally went through make no second refund. Returns refunds made."""
    now = now or timezone.now()
    made = 0
    for owed in gifts_refund_owed():
        if owed["retry_at"] is not None and owed["retry_at"] > now:
            continue
        with transaction.atomic():
            locked = lock_ordered(Gift.objects.filter(pk=owed["gift_id"], status=G.EXPIRED), no_key=True)
            if not locked:
                continue
            gift = locked[0]
            order = lock_ordered(Order.objects.filter(pk=gift.order_id), no_key=True)[0]
            refund, _left = _refund_unclaimed(gift, order)
            made += refund is not None
    return made


def gifts_expire_due(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Beat: expire every open gift past its deadline (see gift_expire). Returns gifts expired."""
    now = now or timezone.now()
    expired = 0
    while True:
        ids = list(
            Gift.objects.filter(status=G.OPEN, claim_deadline__lte=now)
            .order_by("claim_deadline", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        for gift_id in ids:
            gift_expire(gift_id=gift_id, now=now)
            expired += 1
        if len(ids) < batch_size:
            return expired


def gifts_finish_claimed() -> int:
    """Set-based: open gifts with no free copy left become finished, and their orders close (what
    each last claimer does after its commit, for one whose process stopped in between). Returns
    gifts finished."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE gifting_gift g SET status = 'finished' WHERE g.status = 'open' "
            "AND EXISTS (SELECT 1 FROM gifting_giftcopy c WHERE c.gift_id = g.id) "
            "AND NOT EXISTS (SELECT 1 FROM gifting_giftcopy c WHERE c.gift_id = g.id "
            "AND c.recipient_id IS NULL AND c.closed_at IS NULL) RETURNING g.id"
        )
        finished = len(cursor.fetchall())
        cursor.execute(
            "SELECT o.id FROM gifting_gift g JOIN shop_order o ON o.id = g.order_id "
            "WHERE g.status = 'finished' AND o.status = 'paid'"
        )
        order_ids = [row[0] for row in cursor.fetchall()]
    for order_id in order_ids:
        sub_order_parent_close(order_id)
    return finished


def gift_timers(*, now: datetime | None = None) -> dict[str, int]:
    """Beat: follow paid and cancelled orders, draw, remind, finish, expire, retry refused refunds."""
    now = now or timezone.now()
    return {
        "followed": gifts_follow_orders(),
        "drawn": gifts_draw_due(now=now),
        "reminded": gifts_remind(now=now),
        "finished": gifts_finish_claimed(),
        "expired": gifts_expire_due(now=now),
        "refunds_retried": gifts_refund_retry(now=now),
    }
