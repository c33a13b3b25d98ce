"""Admin: operators review, approve and freeze promoters and run agencies; merchants set commission
plans on the product page (an inline added to the shop's product admin) or in bulk (a product
action), see each order's promoter and scene (a ledger inline on the order page) and affiliate
sales by promoter, product or scene. Merchant staff see only their own shops' rows."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from affiliates import selectors, services
from affiliates.models import (
    MAX_PLAN_RATE_BP,
    Agency,
    CommissionEntry,
    CommissionPlan,
    Promoter,
    Scene,
    TargetedRate,
    TrackedLink,
)
from config.exceptions import DomainError
from shop.admin.orders import ReadOnlyInline
from shop.admin.scoping import (
    ShopScopedAdminMixin,
    ShopScopedModelAdmin,
    managed_shops,
    register_shop_path,
    request_is_merchant_staff,
)
from shop.models import Order, OrderLine, Product
from shop.services.staff_permissions import StaffPermission, staff_can
from shop.templatetags.money import format_fen

register_shop_path(CommissionPlan, "product__shop")
register_shop_path(CommissionEntry, "shop")


class _OperatorOnly:
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    has_view_permission = has_change_permission = lambda self, request, obj=None: request.user.is_superuser  # noqa: E731

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Promoter)
class PromoterAdmin(_OperatorOnly, admin.ModelAdmin):
    list_display = ("display_name", "role", "status", "real_name", "masked_id_number", "agency", "created_at")
    list_filter = ("status", "role", "agency")
    search_fields = ("display_name", "real_name", "user__phone")
    readonly_fields = (
        "user",
        "showcase_code",
        "invitation_code",
        "reviewed_by",
        "reviewed_at",
        "frozen_at",
        "created_at",
        "status",
        "bound_creator",
        "bound_agency",
        "bound_at",
    )
    fields = (
        "user",
        "role",
        "status",
        "display_name",
        "bio",
        "real_name",
        "id_number",
        "agency",
        "default_share_bp",
        "showcase_code",
        "invitation_code",
        "bound_creator",
        "bound_agency",
        "bound_at",
        "review_note",
        "reviewed_by",
        "reviewed_at",
        "frozen_at",
        "created_at",
    )
    actions = ["approve", "reject", "freeze", "unfreeze", "unfreeze_keep_cancelled"]
    list_select_related = ("agency",)

    def _each(self, request, queryset, call, done):
        count = 0
        for promoter in queryset:
            try:
                call(promoter)
                count += 1
            except DomainError as error:
                self.message_user(request, f"{promoter}: {error.message}", messages.ERROR)
        if count:
            self.message_user(request, done % {"n": count}, messages.SUCCESS)

    @admin.action(description=_("Approve selected applications"))
    def approve(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda p: services.promoter_review(promoter_id=p.pk, operator=request.user, approve=True),
            _("%(n)s approved."),
        )

    @admin.action(description=_("Reject selected applications"))
    def reject(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda p: services.promoter_review(promoter_id=p.pk, operator=request.user, approve=False),
            _("%(n)s rejected."),
        )

    @admin.action(description=_("Freeze selected promoters"))
    def freeze(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda p: services.promoter_freeze(promoter_id=p.pk, operator=request.user),
            _("%(n)s frozen."),
        )

    @admin.action(description=_("Unfreeze selected promoters (restore what the freeze cancelled)"))
    def unfreeze(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda p: services.promoter_unfreeze(promoter_id=p.pk, operator=request.user),
            _("%(n)s unfrozen."),
        )

    @admin.action(
        description=_("Unfreeze selected promoters (commission the freeze cancelled stays cancelled)")
    )
    def unfreeze_keep_cancelled(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda p: services.promoter_unfreeze(
                promoter_id=p.pk, operator=request.user, restore_commission=False
            ),
            _("%(n)s unfrozen."),
        )


@admin.register(Agency)
class AgencyAdmin(_OperatorOnly, admin.ModelAdmin):
    list_display = ("name", "owner", "service_fee_bp", "default_share_bp", "invitation_code", "is_active")
    readonly_fields = ("invitation_code",)

    def save_model(self, request, obj, form, change):
        if not obj.invitation_code:
            obj.invitation_code = services.code_generate(8)
        super().save_model(request, obj, form, change)


@admin.register(TrackedLink)
class TrackedLinkAdmin(_OperatorOnly, admin.ModelAdmin):
    list_display = ("code", "promoter", "creator", "target", "product", "scene", "is_active", "created_at")
    list_filter = ("scene", "target", "is_active")
    search_fields = ("code", "promoter__display_name")
    list_select_related = ("promoter", "creator", "product")
    readonly_fields = ("code", "promoter", "creator", "parent", "target", "product", "scene", "created_at")


class CommissionEntryReadOnly:
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CommissionEntry)
class CommissionEntryAdmin(CommissionEntryReadOnly, ShopScopedModelAdmin):
    list_display = (
        "created_at",
        "order",
        "product",
        "payee",
        "role",
        "kind",
        "scene",
        "rate_bp",
        "base_display",
        "amount_display",
        "status",
    )
    list_filter = ("status", "kind", "scene", "role")
    search_fields = ("order__number", "promoter__display_name", "product__title")
    list_select_related = ("order", "product", "promoter", "agency")

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or request_is_merchant_staff(request)

    def has_module_permission(self, request):
        return request.user.is_superuser or request_is_merchant_staff(request)

    @admin.display(description=_("payee"))
    def payee(self, entry):
        return entry.promoter or entry.agency

    @admin.display(description=_("base"), ordering="base_fen")
    def base_display(self, entry):
        return format_fen(entry.base_fen)

    @admin.display(description=_("amount"), ordering="amount_fen")
    def amount_display(self, entry):
        return format_fen(entry.amount_fen)

    def get_urls(self):
        return [
            path("sales/", self.admin_site.admin_view(self.sales_view), name="affiliates_sales"),
            *super().get_urls(),
        ]

    def sales_view(self, request):
        if not (request.user.is_superuser or request_is_merchant_staff(request)):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        group_by = request.GET.get("group_by", "promoter")
        if group_by not in ("promoter", "product", "scene"):
            group_by = "promoter"
        shops = None if request.user.is_superuser else managed_shops(request.user)
        key = {"promoter": "promoter__display_name", "product": "product__title", "scene": "scene"}[group_by]
        from affiliates.models import Scene

        labels = dict(Scene.choices)
        rows = [
            {
                "key": labels.get(row[key], row[key]) if group_by == "scene" else row[key],
                "orders": row["orders"],
                "sales": format_fen(row["sales_fen"]),
                "commission": format_fen(row["commission_fen"]),
            }
            for row in selectors.affiliate_sales(shops=shops, group_by=group_by)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Affiliate sales"),
            "rows": rows,
            "group_by": group_by,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/affiliates/sales.html", context)


# --- on the shop's own admin pages ----------------------------------------------------------------
class OptionalInlineFormSet(BaseInlineFormSet):
    """An inline that other apps' forms may post without: when the posted data carries no
    management form for it (a form built before this inline existed, or a script), it counts as
    "left unchanged" instead of invalidating the whole product form."""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.absent = data is not None and f"{self.prefix}-TOTAL_FORMS" not in data
        if self.absent:
            self.new_objects, self.changed_objects, self.deleted_objects = [], [], []

    def is_valid(self):
        return True if self.absent else super().is_valid()

    @property
    def errors(self):
        return [] if self.absent else super().errors

    def non_form_errors(self):
        return self.error_class() if self.absent else super().non_form_errors()

    def save(self, commit=True):
        return [] if self.absent else super().save(commit)


class CommissionPlanForm(forms.ModelForm):
    """The plan's own rules as form errors (the database constraints would otherwise answer 500)."""

    class Meta:
        model = CommissionPlan
        fields = ("kind", "rate_bp", "exclusive_promoter", "is_active")

    def clean(self):
        data = super().clean()
        rate = data.get("rate_bp")
        if rate is not None and rate > MAX_PLAN_RATE_BP:
            self.add_error("rate_bp", _("Choose between 0% and 90%."))
        if data.get("kind") == CommissionPlan.Kind.EXCLUSIVE and not data.get("exclusive_promoter"):
            self.add_error("exclusive_promoter", _("Name the promoter of an exclusive plan."))
        if data.get("kind") == CommissionPlan.Kind.PUBLIC:
            data["exclusive_promoter"] = None
        return data


class TargetedRateFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        plan = self.instance
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            if plan.kind != CommissionPlan.Kind.PUBLIC:
                raise forms.ValidationError(_("Targeted rates belong to a public plan."))
            rate = form.cleaned_data.get("rate_bp")
            if rate is not None and (rate <= (plan.rate_bp or 0) or rate > MAX_PLAN_RATE_BP):
                form.add_error("rate_bp", _("A targeted rate must be above the public rate."))


class TargetedRateInline(admin.TabularInline):
    """Higher rates for named promoters on a public plan (on the plan's own page)."""

    model = TargetedRate
    formset = TargetedRateFormSet
    extra = 1
    fields = ("promoter", "rate_bp")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "promoter":
            kwargs["queryset"] = Promoter.objects.approved()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _plan_changeable(self, request, obj):
        return obj is None or CommissionPlanAdmin.may_change(request, obj.product.shop_id)

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return self._plan_changeable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._plan_changeable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._plan_changeable(request, obj)


@admin.register(CommissionPlan)
class CommissionPlanAdmin(ShopScopedModelAdmin):
    """Each product's plan, where merchants name promoters for targeted rates. Plans are made on the
    product page or with the product list's bulk action."""

    form = CommissionPlanForm
    shop_path = "product__shop"
    list_display = ("product", "kind", "rate_bp", "exclusive_promoter", "is_active", "updated_at")
    list_filter = ("kind", "is_active")
    list_select_related = ("product", "exclusive_promoter")
    search_fields = ("product__title",)
    fields = ("product", "kind", "rate_bp", "exclusive_promoter", "is_active")
    readonly_fields = ("product",)
    inlines = [TargetedRateInline]

    @staticmethod
    def may_change(request, shop_id: int) -> bool:
        if request.user.is_superuser:
            return True
        cache = request.__dict__.setdefault("_commission_allowed", {})
        if shop_id not in cache:
            cache[shop_id] = staff_can(
                user=request.user, shop_id=shop_id, permission=StaffPermission.MANAGE_COMMISSION
            )
        return cache[shop_id]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "exclusive_promoter":
            kwargs["queryset"] = Promoter.objects.approved()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return request.user.is_superuser or request_is_merchant_staff(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or request_is_merchant_staff(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return request.user.is_superuser or request_is_merchant_staff(request)
        return self.may_change(request, obj.product.shop_id)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def save_model(self, request, obj, form, change):
        """Through the service: its checks, its lock, its permission check (targeted rates follow
        from the inline)."""
        try:
            services.plan_set(
                product=obj.product,
                kind=obj.kind,
                rate_bp=obj.rate_bp,
                exclusive_promoter=obj.exclusive_promoter,
                is_active=obj.is_active,
                actor=request.user,
            )
        except DomainError as error:
            raise PermissionDenied(error.message) from None
        obj.refresh_from_db()


class CommissionPlanInline(ShopScopedAdminMixin, admin.StackedInline):
    model = CommissionPlan
    form = CommissionPlanForm
    formset = OptionalInlineFormSet
    show_change_link = True
    shop_path = "product__shop"
    fields = ("kind", "rate_bp", "exclusive_promoter", "is_active")
    extra = 0
    max_num = 1
    can_delete = False
    verbose_name = _("commission plan")
    autocomplete_fields = ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "exclusive_promoter":
            kwargs["queryset"] = Promoter.objects.approved()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may_change(self, request, obj) -> bool:
        """Staff change the plan only where the owner allowed them to (shop.services.staff_permissions)."""
        if request.user.is_superuser:
            return True
        if obj is None:  # a product being created: its plan is set once it exists
            return False
        cache = request.__dict__.setdefault("_commission_allowed", {})
        if obj.shop_id not in cache:
            cache[obj.shop_id] = staff_can(
                user=request.user, shop_id=obj.shop_id, permission=StaffPermission.MANAGE_COMMISSION
            )
        return cache[obj.shop_id]

    def has_add_permission(self, request, obj=None):
        return self._may_change(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_change(request, obj) and super().has_change_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or super().has_change_permission(request, obj)


class OrderCommissionInline(CommissionEntryReadOnly, admin.TabularInline):
    """Who sold this order and in which scene, with each payee's commission."""

    model = CommissionEntry
    fk_name = "order"
    fields = ("product", "payee", "role", "kind", "scene", "rate_bp", "amount_display", "status")
    readonly_fields = fields
    extra = 0
    verbose_name = _("promoter commission")
    verbose_name_plural = _("promoters and commission")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "promoter", "agency")

    @admin.display(description=_("payee"))
    def payee(self, entry):
        return entry.promoter or entry.agency

    @admin.display(description=_("amount"))
    def amount_display(self, entry):
        return format_fen(entry.amount_fen)

    def has_view_permission(self, request, obj=None):
        return True


class RateForm(forms.Form):
    rate_percent = forms.DecimalField(
        label=_("Public commission rate (%)"), min_value=0, max_value=90, decimal_places=2
    )


@admin.action(description=_("Offer commission on selected products"))
def offer_commission(modeladmin, request, queryset):
    form = RateForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        try:
            count = services.plans_set_many(
                products=list(queryset),
                rate_bp=int(form.cleaned_data["rate_percent"] * 100),
                actor=request.user,
            )
        except DomainError as error:
            modeladmin.message_user(request, error.message, messages.ERROR)
            return None
        modeladmin.message_user(
            request, _("Commission offered on %(n)s products.") % {"n": count}, messages.SUCCESS
        )
        return None
    return render(
        request,
        "admin/affiliates/offer_commission.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": _("Offer commission"),
            "form": form,
            "queryset": queryset,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "opts": modeladmin.model._meta,
            "action_name": "offer_commission",
        },
    )


def _extend(model, *, inlines=(), actions=()):
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return
    model_admin.inlines = [*model_admin.inlines, *inlines]
    if actions:
        model_admin.actions = [*(model_admin.actions or []), *actions]


class OrderAttributionInline(ReadOnlyInline):
    """On the order page: which promoter (creator, 推客, agency), scene, plan and rate each line was
    attributed to at checkout, from the line's own snapshot (shown before payment too, when the
    ledger has no rows yet). Names are read in one query per page (get_formset)."""

    model = OrderLine
    shop_path = "order__shop"
    fields = ["title", "creator", "sharer", "agency", "scene", "plan", "link"]
    readonly_fields = fields
    verbose_name = _("promoter attribution")
    verbose_name_plural = _("promoters and scenes")

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(attribution__isnull=False)

    def get_formset(self, request, obj=None, **kwargs):
        snapshots = (
            [a for a in obj.lines.exclude(attribution=None).values_list("attribution", flat=True) if a]
            if obj is not None
            else []
        )
        promoter_ids = {a.get(k) for a in snapshots for k in ("creator", "sharer")} - {None}
        agency_ids = {a.get("agency") for a in snapshots} - {None}
        link_ids = {a.get("link") for a in snapshots} - {None}
        self._names = dict(Promoter.objects.filter(pk__in=promoter_ids).values_list("pk", "display_name"))
        self._agencies = (
            dict(Agency.objects.filter(pk__in=agency_ids).values_list("pk", "name")) if agency_ids else {}
        )
        self._links = (
            dict(TrackedLink.objects.filter(pk__in=link_ids).values_list("pk", "code")) if link_ids else {}
        )
        return super().get_formset(request, obj, **kwargs)

    def _snapshot(self, line) -> dict:
        return line.attribution if isinstance(line.attribution, dict) else {}

    @admin.display(description=_("creator"))
    def creator(self, line):
        return self._names.get(self._snapshot(line).get("creator"), "—")

    @admin.display(description=_("推客"))
    def sharer(self, line):
        return self._names.get(self._snapshot(line).get("sharer"), "—")

    @admin.display(description=_("agency"))
    def agency(self, line):
        return self._agencies.get(self._snapshot(line).get("agency"), "—")

    @admin.display(description=_("scene"))
    def scene(self, line):
        value = self._snapshot(line).get("scene")
        return dict(Scene.choices).get(value, value or "—")

    @admin.display(description=_("plan and rate"))
    def plan(self, line):
        snapshot = self._snapshot(line)
        labels = {"public": _("Public"), "targeted": _("Targeted"), "exclusive": _("Exclusive")}
        rate = snapshot.get("rate_bp") or 0
        return f"{labels.get(snapshot.get('plan'), '—')} {rate / 100:g}%"

    @admin.display(description=_("link"))
    def link(self, line):
        return self._links.get(self._snapshot(line).get("link"), "—")


_extend(Product, inlines=[CommissionPlanInline], actions=[offer_commission])
# The order page shows each line's promoter and scene, and the commission written for it.
_extend(Order, inlines=[OrderAttributionInline, OrderCommissionInline])
