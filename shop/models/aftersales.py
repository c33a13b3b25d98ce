"""After-sales (售后) requests: refund only, or return and refund, on one order line."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shop.private_media import after_sales_photo_path, private_storage


class AfterSalesRequest(models.Model):
    class Kind(models.TextChoices):
        REFUND_ONLY = "refund_only", _("refund only")
        RETURN_REFUND = "return_refund", _("return and refund")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        # Return and refund: approved, the buyer sends the goods back, the merchant confirms receipt.
        AWAITING_RETURN = "awaiting_return", _("approved, awaiting the return")
        RETURN_SHIPPED = "return_shipped", _("return on its way")
        APPROVED = "approved", _("approved, refunding")
        REJECTED = "rejected", _("rejected")
        REFUNDED = "refunded", _("refunded")
        WITHDRAWN = "withdrawn", _("withdrawn")
        # The buyer did not send the goods back in time.
        CLOSED = "closed", _("closed")

    order = models.ForeignKey(
        "shop.Order", on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("order")
    )
    line = models.ForeignKey(
        "shop.OrderLine", on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("order line")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    quantity = models.PositiveIntegerField(_("quantity"))
    amount_fen = models.BigIntegerField(_("refund amount (fen)"))
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    restock = models.BooleanField(_("return stock"), default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    decision_note = models.CharField(max_length=300, blank=True, verbose_name=_("note to the buyer"))
    return_carrier = models.CharField(max_length=40, blank=True, verbose_name=_("return carrier"))
    return_tracking_number = models.CharField(
        max_length=64, blank=True, verbose_name=_("return tracking number")
    )
    return_shipped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("return sent at"))
    return_received_at = models.DateTimeField(null=True, blank=True, verbose_name=_("return received at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("after-sales request")
        verbose_name_plural = _("after-sales requests")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="after_sales_quantity_positive"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="after_sales_amount_positive"),
            # One open request per line at a time.
            models.UniqueConstraint(
                fields=["line"],
                condition=Q(status__in=["open", "awaiting_return", "return_shipped", "approved"]),
                name="one_open_after_sales_per_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} / {self.get_kind_display()}"


class AfterSalesPhoto(models.Model):
    request = models.ForeignKey(
        AfterSalesRequest,
        on_delete=models.CASCADE,
        related_name="photos",
        verbose_name=_("after-sales request"),
    )
    # Private: random names outside MEDIA_ROOT, served only through shop:after-sales-photo.
    image = models.ImageField(
        upload_to=after_sales_photo_path, storage=private_storage, verbose_name=_("image")
    )

    class Meta:
        verbose_name = _("after-sales photo")
        verbose_name_plural = _("after-sales photos")

    def get_absolute_url(self) -> str:
        """The only address of the photo: a view that lets in the buyer, the shop's staff and operators."""
        return reverse("shop:after-sales-photo", args=[self.pk])
