"""Payments and refunds at the provider. A (provider, transaction id) pair is unique: the same
notification can never pay twice."""

from django.db import models
from django.db.models import Q


class Payment(models.Model):
    class Status(models.TextChoices):
        CREATED = "created"
        SUCCEEDED = "succeeded"
        CLOSED = "closed"

    order = models.ForeignKey("shop.Order", on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20, default="wechatpay")
    out_trade_no = models.CharField(max_length=32, unique=True)
    transaction_id = models.CharField(max_length=64, null=True, blank=True)
    prepay_id = models.CharField(max_length=64, blank=True)
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    payer_openid = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    order = models.ForeignKey("shop.Order", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    after_sales = models.ForeignKey(
        "shop.AfterSalesRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    out_refund_no = models.CharField(max_length=64, unique=True)
    refund_id = models.CharField(max_length=64, null=True, blank=True)
    amount_fen = models.BigIntegerField()
    reason = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
