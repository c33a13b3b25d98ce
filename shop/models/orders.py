"""Orders, their lines (snapshots taken at ordering) and the event log of every change."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OrderQuerySet(models.QuerySet):
    def awaiting_payment(self):
        return self.filter(status=Order.Status.PENDING_PAYMENT)

    def for_buyer(self, user):
        return self.filter(buyer=user)

    def for_shops_of(self, user):
        if user.is_superuser:
            return self
        return self.filter(shop__memberships__user=user)


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("pending payment")
        PAID = "paid", _("paid")
        SHIPPED = "shipped", _("shipped")
        RECEIVED = "received", _("received")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        # Paid, then every line refunded before it shipped (WeChat's 已关闭).
        CLOSED = "closed", _("closed")

    class Kind(models.TextChoices):
        STANDARD = "standard", _("standard")
        # Orders another app creates on the shop's rails (gifting): no address at payment time.
        GIFT = "gift", _("gift")
        GIFT_CLAIM = "gift_claim", _("gift claim")

    number = models.CharField(_("order number"), max_length=32, unique=True)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name=_("buyer")
    )
    shop = models.ForeignKey(
        "shop.Shop", on_delete=models.PROTECT, related_name="orders", verbose_name=_("shop")
    )
    kind = models.CharField(
        max_length=16, choices=Kind.choices, default=Kind.STANDARD, verbose_name=_("order type")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT
    )
    # Orders placed together from one cart share a checkout id (one per shop, like WeChat).
    checkout_id = models.UUIDField(db_index=True, null=True, blank=True, verbose_name=_("checkout id"))
    # A sub-order split off a paid line of another order (a claimed gift copy): it starts paid, ships
    # to its own address, and its refunds go back through the parent's payment.
    parent_order = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_orders",
        verbose_name=_("parent order"),
    )
    parent_line = models.ForeignKey(
        "shop.OrderLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_orders",
        verbose_name=_("parent order line"),
    )

    items_fen = models.BigIntegerField(_("items (fen)"))
    shipping_fen = models.BigIntegerField(_("shipping (fen)"), default=0)
    total_fen = models.BigIntegerField(_("total (fen)"))
    refunded_fen = models.BigIntegerField(_("refunded (fen)"), default=0)

    # Address snapshot: later edits to the buyer's address book do not move a placed order.
    recipient_name = models.CharField(max_length=40, blank=True, verbose_name=_("recipient"))
    recipient_phone = models.CharField(max_length=11, blank=True, verbose_name=_("recipient phone"))
    province = models.CharField(max_length=40, blank=True, verbose_name=_("province"))
    city = models.CharField(max_length=40, blank=True, verbose_name=_("city"))
    district = models.CharField(max_length=40, blank=True, verbose_name=_("district"))
    address_detail = models.CharField(max_length=200, blank=True, verbose_name=_("street address"))
    note = models.CharField(_("note to the shop"), max_length=200, blank=True)

    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    payment_deadline = models.DateTimeField(verbose_name=_("pay by"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))
    shipped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shipped at"))
    received_at = models.DateTimeField(null=True, blank=True, verbose_name=_("received at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    cancel_reason = models.CharField(max_length=200, blank=True, verbose_name=_("cancel reason"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["buyer", "status", "-created_at"], name="order_buyer_idx"),
            models.Index(fields=["shop", "status", "-created_at"], name="order_shop_idx"),
            models.Index(
                fields=["payment_deadline"],
                condition=Q(status="pending_payment"),
                name="order_unpaid_deadline_idx",
            ),
            models.Index(fields=["shipped_at"], condition=Q(status="shipped"), name="order_shipped_idx"),
            models.Index(fields=["received_at"], condition=Q(status="received"), name="order_received_idx"),
            # The back office at any size: a shop's list in its order, exact searches, sales by day.
            models.Index(fields=["shop", "-created_at", "-id"], name="order_shop_created_idx"),
            # Sales by day and today's sales read only this index (no visit to the table per order).
            models.Index(
                fields=["shop", "paid_at"], include=["status", "total_fen"], name="order_shop_paid_cover_idx"
            ),
            # Orders waiting to be shipped, across shops (the operator's badge and today page), oldest first.
            models.Index(fields=["paid_at", "id"], condition=Q(status="paid"), name="order_to_ship_idx"),
            models.Index(fields=["recipient_phone"], name="order_recipient_phone_idx"),
            models.Index(
                fields=["tracking_number"], condition=~Q(tracking_number=""), name="order_tracking_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total_fen__gte=0), name="order_total_non_negative"),
            models.CheckConstraint(
                condition=Q(refunded_fen__gte=0) & Q(refunded_fen__lte=models.F("total_fen")),
                name="order_refund_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def address_one_line(self) -> str:
        return f"{self.province}{self.city}{self.district}{self.address_detail}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    sku = models.ForeignKey(
        "shop.SKU", null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("SKU")
    )
    product = models.ForeignKey(
        "shop.Product", null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("product")
    )
    # Snapshots taken when the order was placed.
    title = models.CharField(max_length=120, verbose_name=_("title"))
    spec_label = models.CharField(max_length=120, blank=True, verbose_name=_("spec"))
    image_url = models.CharField(max_length=300, blank=True, verbose_name=_("image"))
    unit_price_fen = models.BigIntegerField(verbose_name=_("unit price (fen)"))
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"))
    total_fen = models.BigIntegerField(verbose_name=_("total (fen)"))
    refunded_quantity = models.PositiveIntegerField(default=0, verbose_name=_("refunded quantity"))
    refunded_fen = models.BigIntegerField(default=0, verbose_name=_("refunded (fen)"))
    # Written inside checkout's transaction by a registered hook (shop/hooks.py), e.g. which promoter's
    # link sold this line. The shop stores it and never reads it.
    attribution = models.JSONField(null=True, blank=True, editable=False, verbose_name=_("attribution"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["order"], condition=Q(attribution__isnull=False), name="order_line_attributed_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")), name="order_line_refund_qty_within"
            ),
            models.CheckConstraint(
                condition=Q(refunded_fen__lte=models.F("total_fen")), name="order_line_refund_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} {self.spec_label} × {self.quantity}"


class OrderEvent(models.Model):
    """One row for every change to an order: who, when, from which state to which."""

    class Kind(models.TextChoices):
        PLACED = "placed", _("Order placed")
        PAID = "paid", _("Paid")
        PAID_AFTER_CANCEL = "paid_after_cancel", _("Payment arrived after cancellation")
        CANCELLED = "cancelled", _("Cancelled")
        SHIPPED = "shipped", _("Shipped")
        RECEIVED = "received", _("Received")
        COMPLETED = "completed", _("Completed")
        REFUND_REQUESTED = "refund_requested", _("Refund started")
        REFUNDED = "refunded", _("Refunded")
        REFUND_FAILED = "refund_failed", _("Refund failed")
        AFTER_SALES_REQUESTED = "after_sales_requested", _("After-sales requested")
        AFTER_SALES_APPROVED = "after_sales_approved", _("After-sales approved")
        AFTER_SALES_REJECTED = "after_sales_rejected", _("After-sales declined")
        AFTER_SALES_WITHDRAWN = "after_sales_withdrawn", _("After-sales withdrawn")
        AFTER_SALES_RETURN_SHIPPED = "after_sales_return_shipped", _("Return sent back")
        AFTER_SALES_RETURN_RECEIVED = "after_sales_return_received", _("Return received")
        AFTER_SALES_CLOSED = "after_sales_closed", _("After-sales closed")
        REFUND_ABNORMAL = "refund_abnormal", _("Refund abnormal")
        CLOSED = "closed", _("Closed")
        SUB_ORDER = "sub_order", _("Sub-order split off")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    kind = models.CharField(max_length=40, choices=Kind.choices, verbose_name=_("event"))
    from_status = models.CharField(max_length=20, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=20, blank=True, verbose_name=_("to status"))
    note = models.CharField(max_length=300, blank=True, verbose_name=_("note"))
    # What a subscriber needs, as data: for refunds the refund, its source and its lines with
    # quantities and amounts in fen (see shop.services.refunds.refund_event_data).
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("time"))

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        if not self.created_at:
            return self.get_kind_display()
        # In the shop's time zone, like every other time a person reads.
        return f"{self.get_kind_display()} {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"

    @property
    def from_status_label(self) -> str:
        return (
            Order.Status(self.from_status).label
            if self.from_status in Order.Status.values
            else self.from_status
        )

    @property
    def to_status_label(self) -> str:
        return Order.Status(self.to_status).label if self.to_status in Order.Status.values else self.to_status
