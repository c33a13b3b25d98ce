"""Gifts (送礼物): a paid gift order's copies, who claimed them, lucky-draw entries, and the
categories the operator keeps out of gifting.

A gift is one line of a shop order of kind `gift` (paid, no address, never shipped itself). Each claim
is a shop sub-order of kind `gift_claim` (shop/services/sub_orders.py). Amounts are the order's: this
app keeps no money of its own.

When a gift opens, one GiftCopy row per copy is made. A claim takes a free copy row (`FOR UPDATE SKIP
LOCKED`: claimers of one gift never queue on a shared row); the expiry job closes the copies still
free. So every copy is claimed by one person or closed, never both, and how many copies are claimed
or left is counted from these rows, never kept in a counter on the gift row.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MESSAGE_MAX_LENGTH = 100
THANKS_MAX_LENGTH = 200


class NonGiftableCategory(models.Model):
    """A category (and its sub-categories) whose products cannot be sent as gifts."""

    category = models.OneToOneField(
        "shop.Category", on_delete=models.CASCADE, related_name="+", verbose_name=_("category")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("category not giftable")
        verbose_name_plural = _("categories not giftable")

    def __str__(self) -> str:
        return str(self.category)


class Gift(models.Model):
    class Mode(models.TextChoices):
        FRIEND = "friend", _("one friend")
        GROUP = "group", _("group, first come")
        DRAW = "draw", _("group, lucky draw")

    class Channel(models.TextChoices):
        FRIEND_CHAT = "friend_chat", _("friend chat")
        GROUP_CHAT = "group_chat", _("group chat")
        OFFICIAL_ACCOUNT = "official_account", _("official account")
        CHANNELS = "channels", _("channels")
        MINI_PROGRAM = "mini_program", _("mini program")

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", _("awaiting payment")
        OPEN = "open", _("open for claims")
        FINISHED = "finished", _("all copies claimed")
        EXPIRED = "expired", _("expired, unclaimed copies refunded")
        CANCELLED = "cancelled", _("not paid, cancelled")

    token = models.CharField(_("share token"), max_length=32, unique=True)
    giver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gifts_sent", verbose_name=_("giver")
    )
    order = models.OneToOneField(
        "shop.Order", on_delete=models.PROTECT, related_name="gift", verbose_name=_("gift order")
    )
    order_line = models.ForeignKey(
        "shop.OrderLine", on_delete=models.PROTECT, related_name="+", verbose_name=_("order line")
    )
    product = models.ForeignKey(
        "shop.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    sku = models.ForeignKey("shop.SKU", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.FRIEND)
    copies = models.PositiveIntegerField(_("copies"))
    message = models.CharField(_("wish message"), max_length=MESSAGE_MAX_LENGTH, blank=True)
    channel = models.CharField(
        _("sent on"), max_length=20, choices=Channel.choices, default=Channel.FRIEND_CHAT
    )
    friends_only = models.BooleanField(_("friends only"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT
    )
    claim_deadline = models.DateTimeField(_("claim by"), null=True, blank=True)
    # Lucky draw: entries are taken until draw_at; the seed's SHA-256 is shown from the start and the
    # seed itself once drawn, so the giver can recompute the winners (gifting/draw.py).
    draw_at = models.DateTimeField(_("draw at"), null=True, blank=True)
    draw_seed = models.CharField(_("draw seed"), max_length=64, blank=True)
    draw_seed_sha256 = models.CharField(_("draw seed SHA-256"), max_length=64, blank=True)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True)
    opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("expiry reminder sent"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired at"), null=True, blank=True)
    refunded_copies = models.PositiveIntegerField(_("copies refunded"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("gift")
        verbose_name_plural = _("gifts")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["giver", "-created_at"], name="gift_giver_idx"),
            models.Index(
                fields=["claim_deadline"], condition=Q(status="open"), name="gift_open_deadline_idx"
            ),
            models.Index(fields=["status"], condition=Q(status="awaiting_payment"), name="gift_unpaid_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(copies__gte=1), name="gift_copies_positive"),
            models.CheckConstraint(
                condition=~Q(mode="friend") | Q(copies=1), name="gift_friend_mode_one_copy"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token[:8]}… × {self.copies}"

    # How many copies are claimed: counted from the copy rows (a selector may annotate it on a list
    # of gifts; otherwise it is counted on first use and kept until refresh_from_db).
    @property
    def claimed_count(self) -> int:
        if "_claimed_count" not in self.__dict__:
            self._claimed_count = (
                GiftCopy.objects.filter(gift_id=self.pk, recipient_id__isnull=False).count() if self.pk else 0
            )
        return self._claimed_count

    @claimed_count.setter
    def claimed_count(self, value: int) -> None:
        self._claimed_count = value

    def refresh_from_db(self, *args, **kwargs):
        self.__dict__.pop("_claimed_count", None)
        return super().refresh_from_db(*args, **kwargs)

    @property
    def copies_left(self) -> int:
        """Copies neither claimed nor closed at expiry (0 once the gift is over)."""
        if self.status != self.Status.OPEN:
            return 0
        return self.copies - self.claimed_count


class GiftCopy(models.Model):
    """One copy of a gift, made when the gift opens: free, then either claimed (`recipient`, by one
    claim) or closed at expiry (`closed_at`: refunded to the giver). A claim takes a free one with
    `FOR UPDATE SKIP LOCKED` (gifting.services.gift_claim)."""

    gift = models.ForeignKey(
        Gift, on_delete=models.CASCADE, related_name="copy_slots", verbose_name=_("gift")
    )
    number = models.PositiveIntegerField(_("copy number"))
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recipient"),
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed unclaimed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("gift copy")
        verbose_name_plural = _("gift copies")
        ordering = ["gift", "number"]
        constraints = [
            models.UniqueConstraint(fields=["gift", "number"], name="gift_copy_number_unique"),
            models.UniqueConstraint(fields=["gift", "recipient"], name="gift_copy_one_per_person"),
            models.CheckConstraint(
                condition=Q(recipient__isnull=True) | Q(closed_at__isnull=True),
                name="gift_copy_claimed_or_closed",
            ),
        ]
        indexes = [
            # The free copies of a gift, in order: what a claim scans (and skips the locked ones of).
            models.Index(
                fields=["gift", "number"],
                condition=Q(recipient__isnull=True, closed_at__isnull=True),
                name="gift_copy_free_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gift_id}#{self.number}"


class GiftClaim(models.Model):
    """One accepted copy: the recipient, the SKU they chose and the shop sub-order that ships it."""

    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="claims", verbose_name=_("gift"))
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="gift_claims",
        verbose_name=_("recipient"),
    )
    order = models.OneToOneField(
        "shop.Order", on_delete=models.PROTECT, related_name="gift_claim", verbose_name=_("sub-order")
    )
    sku = models.ForeignKey("shop.SKU", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    thanks = models.CharField(_("thank-you note"), max_length=THANKS_MAX_LENGTH, blank=True)
    thanked_at = models.DateTimeField(_("thanked at"), null=True, blank=True)
    created_at = models.DateTimeField(_("claimed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("gift claim")
        verbose_name_plural = _("gift claims")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["gift", "recipient"], name="one_claim_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.gift_id}/{self.recipient_id}"


class GiftEntry(models.Model):
    """A person who joined a lucky draw before it was drawn; `won` is set by the draw."""

    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="entries", verbose_name=_("gift"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("person")
    )
    won = models.BooleanField(_("won"), null=True, blank=True)
    draw_key = models.CharField(_("draw key"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    class Meta:
        verbose_name = _("lucky-draw entry")
        verbose_name_plural = _("lucky-draw entries")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["gift", "user"], name="one_entry_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.gift_id}/{self.user_id}"
