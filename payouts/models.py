"""Withdrawals: promoters take their settled commission out to their WeChat balance, and agencies
their settled service fees (to their owner's).

A payee (a promoter or an agency: every row here names exactly one) has two append-only ledgers: the
commission ledger (affiliates.CommissionEntry, settled rows, clawbacks netted in) and `BalanceEntry`
here (a withdrawal takes its amount out, a rejected or failed one puts it back). The available
balance is their sum; nothing stores a running total. Withdrawals of one payee are serialized by a
row lock on their `PayoutAccount`. Amounts are integer fen.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

ONE_PAYEE = Q(promoter__isnull=True) ^ Q(agency__isnull=True)


class PayoutAccount(models.Model):
    """Where a promoter, or an agency's owner for its fees, is paid (a WeChat openid under our app
    id), and the row that serializes the payee's withdrawals (SELECT ... FOR UPDATE)."""

    promoter = models.OneToOneField(
        "affiliates.Promoter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payout_account",
        verbose_name=_("promoter"),
    )
    agency = models.OneToOneField(
        "affiliates.Agency",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payout_account",
        verbose_name=_("agency"),
    )
    openid = models.CharField(_("WeChat openid"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payout account")
        verbose_name_plural = _("payout accounts")
        constraints = [models.CheckConstraint(condition=ONE_PAYEE, name="payout_account_one_payee")]

    def __str__(self) -> str:
        return str(self.promoter or self.agency)


class WithdrawalQuerySet(models.QuerySet):
    def open_for_review(self):
        return self.filter(status__in=[Withdrawal.Status.REQUESTED, Withdrawal.Status.UNDER_REVIEW])


class Withdrawal(models.Model):
    """requested → under_review → approved → paid, or rejected (by an operator) / failed (the transfer
    failed). Rejected and failed withdrawals give the amount back with `reason`."""

    class Status(models.TextChoices):
        REQUESTED = "requested", pgettext_lazy("withdrawal state", "Requested")
        UNDER_REVIEW = "under_review", pgettext_lazy("withdrawal state", "Under review")
        APPROVED = "approved", pgettext_lazy("withdrawal state", "Approved, paying")
        PAID = "paid", pgettext_lazy("withdrawal state", "Paid")
        REJECTED = "rejected", pgettext_lazy("withdrawal state", "Rejected")
        FAILED = "failed", pgettext_lazy("withdrawal state", "Payout failed")

    promoter = models.ForeignKey(
        "affiliates.Promoter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawals",
        verbose_name=_("promoter"),
    )
    agency = models.ForeignKey(
        "affiliates.Agency",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawals",
        verbose_name=_("agency"),
    )
    # Whose real name the transfer carries (WeChat checks it against the openid's owner).
    real_name = models.CharField(_("real name"), max_length=40, blank=True)
    status = models.CharField(_("state"), max_length=14, choices=Status.choices, default=Status.REQUESTED)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    fee_fen = models.BigIntegerField(_("fee (fen)"), default=0)
    payout_fen = models.BigIntegerField(_("paid out (fen)"))
    requested_on = models.DateField(_("requested on"))
    out_bill_no = models.CharField(_("transfer number"), max_length=32, unique=True)
    openid = models.CharField(_("WeChat openid"), max_length=64)
    transfer_bill_no = models.CharField(_("WeChat transfer number"), max_length=64, blank=True)
    transfer_state = models.CharField(_("WeChat transfer state"), max_length=20, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("sent to WeChat Pay at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("transfer attempts"), default=0)
    last_checked_at = models.DateTimeField(_("last checked at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)

    objects = WithdrawalQuerySet.as_manager()

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="withdrawal_amount_positive"),
            models.CheckConstraint(
                condition=Q(fee_fen__gte=0, payout_fen__gt=0) & Q(payout_fen=F("amount_fen") - F("fee_fen")),
                name="withdrawal_payout_is_amount_less_fee",
            ),
            models.CheckConstraint(condition=ONE_PAYEE, name="withdrawal_one_payee"),
        ]
        indexes = [
            models.Index(fields=["promoter", "requested_on"], name="withdrawal_promoter_day_idx"),
            models.Index(fields=["agency", "requested_on"], name="withdrawal_agency_day_idx"),
            models.Index(fields=["promoter", "-created_at"], name="withdrawal_promoter_idx"),
            models.Index(
                fields=["status", "created_at"],
                condition=Q(status__in=["requested", "under_review", "approved"]),
                name="withdrawal_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.out_bill_no

    @property
    def payee(self):
        return self.promoter or self.agency

    @property
    def is_final(self) -> bool:
        return self.status in {self.Status.PAID, self.Status.REJECTED, self.Status.FAILED}


class BalanceEntry(models.Model):
    """Append-only: a withdrawal takes its amount out of the balance (negative); a rejected or failed
    withdrawal gives it back (positive). At most one of each per withdrawal."""

    class Kind(models.TextChoices):
        WITHDRAWAL = "withdrawal", _("Withdrawal")
        RETURN = "return", _("Withdrawal returned")

    promoter = models.ForeignKey(
        "affiliates.Promoter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="balance_entries",
        verbose_name=_("promoter"),
    )
    agency = models.ForeignKey(
        "affiliates.Agency",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="balance_entries",
        verbose_name=_("agency"),
    )
    withdrawal = models.ForeignKey(
        Withdrawal, on_delete=models.PROTECT, related_name="balance_entries", verbose_name=_("withdrawal")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    amount_fen = models.BigIntegerField(_("amount (fen)"))
    created_at = models.DateTimeField(_("written"), auto_now_add=True)

    class Meta:
        verbose_name = _("balance entry")
        verbose_name_plural = _("balance entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["withdrawal", "kind"], name="balance_entry_once_per_kind"),
            models.CheckConstraint(
                condition=(Q(kind="withdrawal") & Q(amount_fen__lt=0))
                | (Q(kind="return") & Q(amount_fen__gt=0)),
                name="balance_entry_sign_by_kind",
            ),
            models.CheckConstraint(condition=ONE_PAYEE, name="balance_entry_one_payee"),
        ]
        indexes = [
            models.Index(fields=["promoter"], name="balance_entry_promoter_idx"),
            models.Index(fields=["agency"], name="balance_entry_agency_idx"),
        ]
