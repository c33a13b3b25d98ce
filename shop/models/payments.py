"""Payments and refunds at the provider. A (provider, transaction id) pair is unique: the same
notification can never pay twice."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Payment(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("awaiting payment")
        SUCCEEDED = "succeeded", _("succeeded")
        CLOSED = "closed", _("closed")

    order = models.ForeignKey(
        "shop.Order", on_delete=models.PROTECT, related_name="payments", verbose_name=_("order")
    )
    provider = models.CharField(max_length=20, default="wechatpay", verbose_name=_("provider"))
    out_trade_no = models.CharField(max_length=32, unique=True, verbose_name=_("merchant trade no."))
    transaction_id = models.CharField(max_length=64, null=True, blank=True, verbose_name=_("transaction id"))
    prepay_id = models.CharField(max_length=64, blank=True, verbose_name=_("prepay id"))
    # Set on each order's payment when one checkout's orders are paid together (WeChat Pay combined
    # payment, 合单支付): the shared number of the one payment the buyer makes; blank otherwise.
    combine_out_trade_no = models.CharField(
        max_length=32, blank=True, db_index=True, verbose_name=_("combined payment no.")
    )
    amount_fen = models.BigIntegerField(verbose_name=_("amount (fen)"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.CREATED, verbose_name=_("status")
    )
    payer_openid = models.CharField(max_length=128, blank=True, verbose_name=_("payer openid"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "transaction_id"],
                condition=Q(transaction_id__isnull=False),
                name="unique_provider_transaction",
            ),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.out_trade_no


class Refund(models.Model):
    """Money going back to the buyer: one refund at the provider, naming its lines (RefundLine) and
    the part of the shipping fee it returns. `amount_fen` = sum of its lines' amounts + `shipping_fen`."""

    class Status(models.TextChoices):
        PROCESSING = "processing", _("processing")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        # The provider says ABNORMAL (e.g. the buyer's card was closed): the money is held at the
        # provider, neither back with the buyer nor free to refund again; reconciled by a job.
        ABNORMAL = "abnormal", _("abnormal, being checked")

    class Source(models.TextChoices):
        AFTER_SALES = "after_sales", _("after-sales")
        MERCHANT = "merchant", _("merchant")
        LATE_PAYMENT = "late_payment", _("payment after cancellation")
        GIFT = "gift", _("unclaimed gift")

    # Refunds in these states hold their amount: what is left to refund excludes them.
    HOLDING = (Status.PROCESSING, Status.SUCCEEDED, Status.ABNORMAL)

    order = models.ForeignKey(
        "shop.Order", on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order")
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    after_sales = models.ForeignKey(
        "shop.AfterSalesRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("after-sales request"),
    )
    out_refund_no = models.CharField(max_length=64, unique=True, verbose_name=_("merchant refund no."))
    refund_id = models.CharField(max_length=64, null=True, blank=True, verbose_name=_("refund id"))
    amount_fen = models.BigIntegerField(verbose_name=_("amount (fen)"))
    shipping_fen = models.BigIntegerField(default=0, verbose_name=_("shipping refunded (fen)"))
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.MERCHANT, verbose_name=_("source")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("started by"),
    )
    restock = models.BooleanField(default=False, verbose_name=_("stock returned"))
    reason = models.CharField(max_length=80, blank=True, verbose_name=_("reason"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROCESSING, verbose_name=_("status")
    )
    # The provider's own word on the refund the last time we heard or asked (PROCESSING, SUCCESS,
    # ABNORMAL, CLOSED), and when we last asked it (the reconcile job).
    provider_status = models.CharField(max_length=16, blank=True, verbose_name=_("provider status"))
    checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last checked"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    succeeded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("succeeded at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["payment", "refund_id"],
                condition=Q(refund_id__isnull=False),
                name="unique_provider_refund",
            ),
            models.CheckConstraint(
                condition=Q(shipping_fen__gte=0) & Q(shipping_fen__lte=models.F("amount_fen")),
                name="refund_shipping_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["processing", "abnormal"]),
                name="refund_unsettled_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.out_refund_no


class RefundLine(models.Model):
    """The part of a refund that goes to one order line: units given back (0 for money only, e.g. a
    price adjustment) and the amount in fen. Commission clawbacks are computed from these rows."""

    refund = models.ForeignKey(
        Refund, on_delete=models.CASCADE, related_name="lines", verbose_name=_("refund")
    )
    line = models.ForeignKey(
        "shop.OrderLine", on_delete=models.PROTECT, related_name="refund_lines", verbose_name=_("order line")
    )
    quantity = models.PositiveIntegerField(default=0, verbose_name=_("quantity"))
    amount_fen = models.BigIntegerField(verbose_name=_("amount (fen)"))

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="refund_line_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(amount_fen__gt=0) | Q(quantity__gt=0), name="refund_line_not_empty"
            ),
            models.UniqueConstraint(fields=["refund", "line"], name="one_refund_line_per_order_line"),
        ]

    def __str__(self) -> str:
        return f"{self.refund_id}/{self.line_id} × {self.quantity} {self.amount_fen}"
