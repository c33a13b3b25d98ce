"""Admin: gifts, read-only, for the merchant (their own shops' gifts) and the operator (all), with
the state of the refund of unclaimed copies: a refund the payment provider refused shows its reason
and when the beat job tries it again (gifting.services.gifts_refund_retry). Operators also keep the
categories whose products cannot be gifts."""

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from gifting.models import Gift, NonGiftableCategory
from gifting.selectors import claimed_copies
from gifting.services import gifts_refund_owed
from shop.admin.scoping import ShopScopedModelAdmin, register_shop_path
from shop.models import OrderEvent, Refund
from shop.selectors.timeline import merchant_event_sentence
from shop.templatetags.money import format_fen

register_shop_path(Gift, "order__shop")


class RefundOwedFilter(admin.SimpleListFilter):
    title = _("unclaimed copies' refund")
    parameter_name = "refund"

    def lookups(self, request, model_admin):
        return [("owed", _("failed, still owed"))]

    def queryset(self, request, queryset):
        if self.value() == "owed":
            return queryset.filter(pk__in=[row["gift_id"] for row in gifts_refund_owed()])
        return queryset


@admin.register(Gift)
class GiftAdmin(ShopScopedModelAdmin):
    shop_path = "order__shop"
    list_display = (
        "short_token",
        "product",
        "giver",
        "mode",
        "copies",
        "claimed",
        "status",
        "unclaimed_refund",
        "created_at",
    )
    list_filter = ("status", "mode", RefundOwedFilter)
    search_fields = ("token", "order__number")
    list_select_related = ("product", "giver", "order")
    fields = (
        "token",
        "order",
        "product",
        "sku",
        "giver",
        "mode",
        "copies",
        "claimed",
        "status",
        "message",
        "channel",
        "friends_only",
        "claim_deadline",
        "expired_at",
        "refunded_copies",
        "refund_record",
        "created_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        last_refund = Refund.objects.filter(
            order_id=OuterRef("order_id"), source=Refund.Source.GIFT
        ).order_by("-pk")
        last_failure = OrderEvent.objects.filter(
            order_id=OuterRef("order_id"), kind=OrderEvent.Kind.REFUND_FAILED
        ).order_by("-pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                claimed_count=claimed_copies(),
                last_refund_status=Subquery(last_refund.values("status")[:1]),
                last_refund_fen=Subquery(last_refund.values("amount_fen")[:1]),
                last_failure=Subquery(last_failure.values("note")[:1]),
            )
        )

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("share token"))
    def short_token(self, gift):
        return f"{gift.token[:8]}…"

    @admin.display(description=_("claimed"))
    def claimed(self, gift):
        return gift.claimed_count

    @admin.display(description=_("unclaimed copies' refund"))
    def unclaimed_refund(self, gift):
        status = getattr(gift, "last_refund_status", None)
        if status is None:
            return "—"
        amount = format_fen(gift.last_refund_fen)
        if status == Refund.Status.FAILED:
            return _("%(amount)s refused: %(reason)s. Tried again by itself.") % {
                "amount": amount,
                "reason": gift.last_failure or _("no reason given"),
            }
        return f"{amount} · {Refund.Status(status).label}"

    @admin.display(description=_("refunds of unclaimed copies"))
    def refund_record(self, gift):
        """Every refund of the gift order with what became of it, and whether copies are still owed
        (a refused refund: the reason and when it is tried again)."""
        lines = []
        events = OrderEvent.objects.filter(
            order_id=gift.order_id,
            kind__in=[
                OrderEvent.Kind.REFUND_REQUESTED,
                OrderEvent.Kind.REFUNDED,
                OrderEvent.Kind.REFUND_FAILED,
            ],
        ).order_by("created_at", "pk")
        for event in events:
            when = timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M")
            lines.append((when, merchant_event_sentence(event)))
        for owed in gifts_refund_owed(gift_ids=[gift.pk]):
            if owed["retry_at"] is not None:
                when = timezone.localtime(owed["retry_at"]).strftime("%Y-%m-%d %H:%M")
                lines.append(
                    (
                        when,
                        _("Still owed to the giver after %(n)s refused refunds: tried again then.")
                        % {"n": owed["failures"]},
                    )
                )
        if not lines:
            return "—"
        return format_html_join("", "<div>{} · {}</div>", lines)


@admin.register(NonGiftableCategory)
class NonGiftableCategoryAdmin(admin.ModelAdmin):
    """Operators mark categories (and their sub-categories) whose products cannot be gifts."""

    list_display = ("category", "created_at")
    autocomplete_fields = ()

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
