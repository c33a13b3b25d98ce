"""Promoters (带货者 creators and 推客 sharers), agencies (机构), commission plans, showcases, tracked
links, clicks and the commission ledger. Amounts are integer fen, rates basis points (0..10000)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

MAX_PLAN_RATE_BP = 9000  # a merchant offers at most 90% of a line
MIN_SHARE_BP, MAX_SHARE_BP = 1000, 10000  # a 推客 gets 10%..100% of what the creator earns


class Scene(models.TextChoices):
    """Where a link is shared (全域)."""

    CHANNELS_VIDEO = "channels_video", _("Channels video")
    OFFICIAL_ARTICLE = "official_article", _("Official-account article")
    SERVICE_ACCOUNT = "service_account", _("Service account")
    MINI_PROGRAM = "mini_program", _("Mini program")
    SEARCH = "search", _("Search")
    CHAT = "chat", _("Chat")
    GROUP = "group", _("Group chat")
    MOMENTS = "moments", _("Moments")


class Agency(models.Model):
    """An organisation (机构) creators and sharers may belong to; it takes a service fee of the
    commission its creators earn."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_agencies",
        verbose_name=_("owner"),
    )
    service_fee_bp = models.PositiveIntegerField(_("service fee (bp)"), default=1000)
    default_share_bp = models.PositiveIntegerField(_("推客 share (bp)"), default=5000)
    invitation_code = models.CharField(_("invitation code"), max_length=16, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(service_fee_bp__lte=5000), name="agency_fee_within_50pct"),
            models.CheckConstraint(
                condition=Q(default_share_bp__gte=MIN_SHARE_BP, default_share_bp__lte=MAX_SHARE_BP),
                name="agency_share_within_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PromoterQuerySet(models.QuerySet):
    def approved(self):
        return self.filter(status=Promoter.Status.APPROVED)


class Promoter(models.Model):
    """A user's promoter profile: one per user, a creator (带货者) or a sharer (推客)."""

    class Role(models.TextChoices):
        CREATOR = "creator", _("Creator (带货者)")
        SHARER = "sharer", _("Sharer (推客)")

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        FROZEN = "frozen", _("Frozen")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="promoter", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.APPLIED)
    display_name = models.CharField(_("display name"), max_length=40)
    bio = models.CharField(_("introduction"), max_length=200, blank=True)
    real_name = models.CharField(_("real name"), max_length=40)
    id_number = models.CharField(_("ID card number"), max_length=18)
    # Creators: the public showcase address and the code 推客 join with.
    showcase_code = models.CharField(_("showcase code"), max_length=16, unique=True)
    invitation_code = models.CharField(_("invitation code"), max_length=16, unique=True)
    default_share_bp = models.PositiveIntegerField(_("推客 share (bp)"), default=5000)
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("agency"),
    )
    # Sharers: who they joined under (one level; a creator or an agency, never both).
    bound_creator = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sharers",
        verbose_name=_("joined under creator"),
    )
    bound_agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sharers",
        verbose_name=_("joined under agency"),
    )
    bound_at = models.DateTimeField(_("joined at"), null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=200, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    created_at = models.DateTimeField(_("applied at"), auto_now_add=True)

    objects = PromoterQuerySet.as_manager()

    class Meta:
        verbose_name = _("promoter")
        verbose_name_plural = _("promoters")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_share_bp__gte=MIN_SHARE_BP, default_share_bp__lte=MAX_SHARE_BP),
                name="promoter_share_within_range",
            ),
            models.CheckConstraint(
                condition=~(Q(bound_creator__isnull=False) & Q(bound_agency__isnull=False)),
                name="promoter_one_binding",
            ),
            models.CheckConstraint(
                condition=Q(role="sharer") | (Q(bound_creator__isnull=True) & Q(bound_agency__isnull=True)),
                name="promoter_only_sharers_bind",
            ),
            models.CheckConstraint(condition=~Q(bound_creator=F("id")), name="promoter_no_self_binding"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_creator(self) -> bool:
        return self.role == self.Role.CREATOR

    @property
    def masked_id_number(self) -> str:
        return f"{self.id_number[:3]}{'*' * max(len(self.id_number) - 7, 0)}{self.id_number[-4:]}"


class ShareOverride(models.Model):
    """A creator's or agency's 推客 share for one product, instead of their default."""

    creator = models.ForeignKey(
        Promoter, null=True, blank=True, on_delete=models.CASCADE, related_name="share_overrides"
    )
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="share_overrides"
    )
    product = models.ForeignKey("shop.Product", on_delete=models.CASCADE, related_name="+")
    share_bp = models.PositiveIntegerField(_("推客 share (bp)"))

    class Meta:
        verbose_name = _("推客 share for a product")
        verbose_name_plural = _("推客 shares for products")
        constraints = [
            models.CheckConstraint(
                condition=Q(share_bp__gte=MIN_SHARE_BP, share_bp__lte=MAX_SHARE_BP),
                name="override_share_range",
            ),
            models.CheckConstraint(
                condition=Q(creator__isnull=True) ^ Q(agency__isnull=True), name="override_one_owner"
            ),
            models.UniqueConstraint(fields=["creator", "product"], name="override_creator_product"),
            models.UniqueConstraint(fields=["agency", "product"], name="override_agency_product"),
        ]


class CommissionPlan(models.Model):
    """What a merchant offers promoters on one product: a public rate for everyone (with targeted,
    higher rates for named promoters) or an exclusive rate for one promoter. Checkout snapshots the
    rate onto the order line, so a change applies to orders placed after it."""

    class Kind(models.TextChoices):
        PUBLIC = "public", _("Public")
        EXCLUSIVE = "exclusive", _("Exclusive")

    product = models.OneToOneField(
        "shop.Product", on_delete=models.CASCADE, related_name="commission_plan", verbose_name=_("product")
    )
    kind = models.CharField(_("plan"), max_length=10, choices=Kind.choices, default=Kind.PUBLIC)
    rate_bp = models.PositiveIntegerField(_("rate (bp)"))
    exclusive_promoter = models.ForeignKey(
        Promoter,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="exclusive_plans",
        verbose_name=_("exclusive promoter"),
    )
    is_active = models.BooleanField(_("live"), default=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("commission plan")
        verbose_name_plural = _("commission plans")
        constraints = [
            models.CheckConstraint(condition=Q(rate_bp__lte=MAX_PLAN_RATE_BP), name="plan_rate_within_90pct"),
            models.CheckConstraint(
                condition=(Q(kind="exclusive") & Q(exclusive_promoter__isnull=False))
                | (Q(kind="public") & Q(exclusive_promoter__isnull=True)),
                name="plan_exclusive_names_one_promoter",
            ),
        ]
        indexes = [models.Index(fields=["rate_bp"], condition=Q(is_active=True), name="plan_live_rate_idx")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.kind} {self.rate_bp}"


class TargetedRate(models.Model):
    """A higher rate for one named promoter on a public plan (only while the public plan is live)."""

    plan = models.ForeignKey(CommissionPlan, on_delete=models.CASCADE, related_name="targeted_rates")
    promoter = models.ForeignKey(Promoter, on_delete=models.CASCADE, related_name="targeted_rates")
    rate_bp = models.PositiveIntegerField(_("rate (bp)"))

    class Meta:
        verbose_name = _("targeted rate")
        verbose_name_plural = _("targeted rates")
        constraints = [
            models.UniqueConstraint(fields=["plan", "promoter"], name="targeted_rate_once"),
            models.CheckConstraint(
                condition=Q(rate_bp__lte=MAX_PLAN_RATE_BP), name="targeted_rate_within_90pct"
            ),
        ]


class ShowcaseItem(models.Model):
    creator = models.ForeignKey(Promoter, on_delete=models.CASCADE, related_name="showcase_items")
    product = models.ForeignKey("shop.Product", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("showcase item")
        verbose_name_plural = _("showcase items")
        ordering = ["position", "-id"]
        constraints = [models.UniqueConstraint(fields=["creator", "product"], name="showcase_product_once")]


class TrackedLink(models.Model):
    """A promoter's link for one product or a whole showcase, in one scene. A sharer's child link
    points at a creator's link and sells what it sells."""

    class Target(models.TextChoices):
        PRODUCT = "product", _("Product")
        SHOWCASE = "showcase", _("Showcase")

    code = models.CharField(_("code"), max_length=16, unique=True)
    promoter = models.ForeignKey(
        Promoter, on_delete=models.PROTECT, related_name="links", verbose_name=_("promoter")
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("from link"),
    )
    # The creator whose showcase or product this sells (the promoter itself for a creator's link).
    creator = models.ForeignKey(
        Promoter, on_delete=models.PROTECT, related_name="+", verbose_name=_("creator")
    )
    target = models.CharField(_("target"), max_length=10, choices=Target.choices)
    product = models.ForeignKey(
        "shop.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("product"),
    )
    scene = models.CharField(_("scene"), max_length=20, choices=Scene.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(target="product") & Q(product__isnull=False))
                | (Q(target="showcase") & Q(product__isnull=True)),
                name="link_target_matches_product",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Click(models.Model):
    """One open of a tracked link. `click_id` is made by the web process, so a click flushed twice
    from the Redis buffer is stored once."""

    click_id = models.UUIDField(unique=True)
    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="clicks")
    visitor = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clicked_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        indexes = [
            models.Index(fields=["link", "visitor", "clicked_at"], name="click_link_visitor_idx"),
            models.Index(
                fields=["user", "-clicked_at"], condition=Q(user__isnull=False), name="click_user_idx"
            ),
        ]


class CommissionEntry(models.Model):
    """The ledger: append-only rows. A `commission` row per payee per order line is written once the
    order is paid (pending); it settles when the order completes or is cancelled by a refund or a
    freeze before that. A refund before settlement writes a `reversal` row (negative, following its
    commission's state); after settlement a `clawback` row (negative, settled). Balances are sums."""

    class Kind(models.TextChoices):
        COMMISSION = "commission", _("Commission")
        REVERSAL = "reversal", _("Refunded before settlement")
        CLAWBACK = "clawback", _("Clawback")

    class Role(models.TextChoices):
        CREATOR = "creator", _("Creator")
        SHARER = "sharer", _("推客")
        AGENCY = "agency", _("Agency fee")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SETTLED = "settled", _("Settled")
        CANCELLED = "cancelled", _("Cancelled")

    class CancelReason(models.TextChoices):
        NONE = "", _("—")
        ORDER = "order", _("Order cancelled or closed")
        REFUND = "refund", _("Refunded in full")
        FREEZE = "freeze", _("Promoter frozen")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    status = models.CharField(_("state"), max_length=10, choices=Status.choices)
    promoter = models.ForeignKey(
        Promoter,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger",
        verbose_name=_("promoter"),
    )
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger",
        verbose_name=_("agency"),
    )
    order = models.ForeignKey(
        "shop.Order", on_delete=models.PROTECT, related_name="+", verbose_name=_("order")
    )
    order_line = models.ForeignKey("shop.OrderLine", on_delete=models.PROTECT, related_name="+")
    shop = models.ForeignKey("shop.Shop", on_delete=models.PROTECT, related_name="+", verbose_name=_("shop"))
    product = models.ForeignKey(
        "shop.Product", null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("product")
    )
    link = models.ForeignKey(
        TrackedLink, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("link")
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="adjustments"
    )
    refund_line_id = models.BigIntegerField(null=True, blank=True)
    # Snapshots from the order line's attribution.
    scene = models.CharField(_("scene"), max_length=20, choices=Scene.choices)
    rate_bp = models.PositiveIntegerField(_("rate (bp)"))
    base_fen = models.BigIntegerField(_("base (fen)"))
    commission_fen = models.BigIntegerField(_("line commission (fen)"))
    agency_fee_bp = models.PositiveIntegerField(_("agency fee (bp)"), default=0)
    share_bp = models.PositiveIntegerField(_("推客 share (bp)"), default=0)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    created_at = models.DateTimeField(_("written"), auto_now_add=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # Why a row was cancelled: an unfreeze restores what a freeze cancelled (promoter_unfreeze).
    cancel_reason = models.CharField(
        _("cancelled because"),
        max_length=10,
        choices=CancelReason.choices,
        blank=True,
        default="",
        db_default="",
    )

    class Meta:
        verbose_name = _("commission entry")
        verbose_name_plural = _("commission ledger")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_line", "role"],
                condition=Q(kind="commission"),
                name="ledger_one_commission_per_payee",
            ),
            models.UniqueConstraint(
                fields=["parent", "refund_line_id"],
                condition=Q(parent__isnull=False),
                name="ledger_one_adjustment_per_refund_line",
            ),
            models.CheckConstraint(
                condition=Q(promoter__isnull=True) ^ Q(agency__isnull=True), name="ledger_one_payee"
            ),
            models.CheckConstraint(
                condition=(Q(kind="commission") & Q(amount_fen__gte=0))
                | (~Q(kind="commission") & Q(amount_fen__lte=0)),
                name="ledger_sign_by_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["order"], condition=Q(status="pending"), name="ledger_pending_idx"),
            models.Index(fields=["promoter", "-created_at"], name="ledger_promoter_idx"),
            models.Index(fields=["order_line"], name="ledger_line_idx"),
        ]


class PromoterDailyStat(models.Model):
    """A daily rollup of one promoter's results in one scene for one product (product empty: a whole
    showcase link), kept by `affiliates.stats` (Celery) so the promoter centre never scans clicks.
    Days are in the shop's time zone. Recomputable at any time from clicks and the ledger."""

    promoter = models.ForeignKey(Promoter, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    scene = models.CharField(max_length=20, choices=Scene.choices)
    # The product's id, 0 for a whole showcase (no foreign key: a rollup never holds a product back).
    product_id = models.BigIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    visits = models.PositiveIntegerField(default=0)  # clicks, a visitor's repeats within 30 minutes once
    visitors = models.PositiveIntegerField(default=0)  # distinct visitors that day
    orders = models.PositiveIntegerField(default=0)
    gmv_fen = models.BigIntegerField(default=0)
    pending_fen = models.BigIntegerField(default=0)
    settled_fen = models.BigIntegerField(default=0)
    cancelled_fen = models.BigIntegerField(default=0)
    clawed_back_fen = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("daily promoter statistics")
        verbose_name_plural = _("daily promoter statistics")
        constraints = [
            models.UniqueConstraint(
                fields=["promoter", "day", "scene", "product_id"], name="daily_stat_cell_once"
            ),
        ]


class StatsWatermark(models.Model):
    """How far the click rollup has read (clicks recorded after this are rolled up next time)."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.DateTimeField()
