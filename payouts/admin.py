"""Admin for operators: the withdrawal queue (review one by one or in bulk: start review, approve,
which pays through WeChat Pay, or reject with a reason) and payout accounts. Merchants see none of it."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from config.exceptions import DomainError
from payouts import selectors, services
from payouts.models import BalanceEntry, PayoutAccount, Withdrawal
from shop.templatetags.money import format_fen


class _OperatorOnly:
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WithdrawalActionForm(ActionForm):
    reason = forms.CharField(label=_("Reason (for rejections)"), max_length=200, required=False)


class BalanceEntryInline(admin.TabularInline):
    model = BalanceEntry
    extra = 0
    can_delete = False
    fields = ("kind", "amount_yuan", "created_at")
    readonly_fields = fields

    @admin.display(description=_("amount"))
    def amount_yuan(self, entry):
        return format_fen(entry.amount_fen)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Withdrawal)
class WithdrawalAdmin(_OperatorOnly, admin.ModelAdmin):
    list_display = (
        "out_bill_no",
        "payee",
        "real_name",
        "amount_yuan",
        "payout_yuan",
        "status",
        "transfer_state",
        "created_at",
        "reviewed_by",
    )
    list_filter = ("status", "requested_on")
    search_fields = (
        "out_bill_no",
        "transfer_bill_no",
        "promoter__display_name",
        "promoter__real_name",
        "agency__name",
        "real_name",
    )
    list_select_related = ("promoter", "agency", "reviewed_by")
    action_form = WithdrawalActionForm
    actions = ("start_review", "approve", "reject")
    inlines = [BalanceEntryInline]
    readonly_fields = [field.name for field in Withdrawal._meta.fields]

    @admin.display(description=_("payee"))
    def payee(self, withdrawal):
        return withdrawal.promoter or _("Agency %(name)s") % {"name": withdrawal.agency}

    @admin.display(description=_("real name"))
    def real_name(self, withdrawal):
        return withdrawal.real_name or withdrawal.promoter.real_name

    @admin.display(description=_("amount"), ordering="amount_fen")
    def amount_yuan(self, withdrawal):
        return format_fen(withdrawal.amount_fen)

    @admin.display(description=_("paid out"))
    def payout_yuan(self, withdrawal):
        return format_fen(withdrawal.payout_fen)

    def changelist_view(self, request, extra_context=None):
        queue = selectors.withdrawal_queue_totals()
        extra_context = {**(extra_context or {}), "withdrawal_queue": queue}
        if request.method == "GET" and queue:
            labels = dict(Withdrawal.Status.choices)
            summary = "; ".join(
                f"{labels[state]} {row['count']} ({format_fen(row['amount_fen'])})"
                for state, row in queue.items()
            )
            messages.info(request, _("Queue: %(summary)s") % {"summary": summary})
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Start reviewing selected withdrawals"))
    def start_review(self, request, queryset):
        changed = services.withdrawals_start_review(
            withdrawal_ids=queryset.values_list("pk", flat=True), operator=request.user
        )
        self.message_user(request, _("%(count)d withdrawals under review.") % {"count": changed})

    @admin.action(description=_("Approve and pay selected withdrawals"))
    def approve(self, request, queryset):
        changed = services.withdrawals_approve(
            withdrawal_ids=queryset.values_list("pk", flat=True), operator=request.user
        )
        self.message_user(
            request, _("%(count)d withdrawals approved; paying through WeChat Pay.") % {"count": changed}
        )

    @admin.action(description=_("Reject selected withdrawals (give a reason)"))
    def reject(self, request, queryset):
        """Asks for the reason on a page of its own (the theme shows actions as bare buttons), then
        rejects; the reason typed beside the action (plain admin) is taken as it is."""
        reason = request.POST.get("reason", "").strip()
        if not reason:
            if "apply" in request.POST:
                self.message_user(request, _("Give a reason for the rejection."), level=messages.ERROR)
            return TemplateResponse(
                request,
                "payouts/admin/reject.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "withdrawals": queryset.select_related("promoter", "agency"),
                    "title": _("Reject selected withdrawals"),
                },
            )
        try:
            changed = services.withdrawals_reject(
                withdrawal_ids=queryset.values_list("pk", flat=True), operator=request.user, reason=reason
            )
        except DomainError as error:
            self.message_user(request, error.message, level=messages.ERROR)
            return None
        self.message_user(
            request,
            _("%(count)d withdrawals rejected; the money is back in their balance.") % {"count": changed},
        )
        return None


@admin.register(PayoutAccount)
class PayoutAccountAdmin(_OperatorOnly, admin.ModelAdmin):
    list_display = ("promoter", "agency", "openid", "created_at")
    search_fields = ("promoter__display_name", "agency__name", "openid")
    fields = ("promoter", "agency", "openid", "created_at")
    readonly_fields = ("promoter", "agency", "created_at")
