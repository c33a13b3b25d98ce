"""Payments and refunds at the provider. A (provider, transaction id) pair is unique: the same
notification can never pay twice."""

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
    class Status(models.TextChoices):
        PROCESSING = "processing", _("processing")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

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
    reason = models.CharField(max_length=80, blank=True, verbose_name=_("reason"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROCESSING, verbose_name=_("status")
    )
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
        ]

    def __str__(self) -> str:
        return self.out_refund_no
