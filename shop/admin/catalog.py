"""Admin for shops and the catalog, scoped to the staff member's own shops.

Every save goes through shop.services.catalog. A rule the services refuse (say, on sale with no
priced SKU) rolls the whole save back and re-shows the form with the message on it, so nothing is
half written. The product page edits spec dimensions as "颜色: 红色, 蓝色" rows; saving regenerates
the SKU grid below them, where price, original price, stock and code are set per combination.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.exceptions import DomainError, form_error_from
from shop.admin.presentation import yuan_display
from shop.admin.resources import ProductResource, SKUResource
from shop.admin.scoping import (
    ShopScopedAdminMixin,
    ShopScopedModelAdmin,
    export_as_csv,
    request_is_merchant_staff,
)
from shop.admin.sheets import SheetImportExportMixin
from shop.models import SKU, Category, Product, ProductImage, Shop, ShopMembership, SpecDimension
from shop.services import catalog as services
from shop.services.staff_permissions import (
    MEMBERSHIP_FIELDS,
    StaffPermission,
    staff_can,
    staff_can_manage_staff,
    staff_permissions_set,
)
from shop.templatetags.money import format_fen, parse_yuan

# --- Shared pieces ---------------------------------------------------------------------------


class YuanField(forms.CharField):
    """Money typed in yuan ("12.5"), kept in fen (1250)."""

    def __init__(self, *, required=True, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 8}))
        super().__init__(required=required, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, int):
            return format_fen(value, symbol=False).replace(",", "")
        return value

    def to_python(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return value  # already fen: the initial value of a disabled field
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_yuan(value)
        except ValueError:
            raise forms.ValidationError(
                _("Enter an amount in yuan, zero or more, with at most two decimals.")
            ) from None


class DomainErrorsShownOnFormMixin:
    """Run the whole change form in a savepoint; if a service refuses, roll back and show the form
    again, with the user's input and the refusal on it."""

    def _changeform_view(self, request, object_id, form_url, extra_context):
        try:
            with transaction.atomic():
                return super()._changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            request._catalog_domain_error = error
            return super()._changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, "_catalog_domain_error", None)
        if error is None:
            return form_class

        class FormShowingRefusal(form_class):
            def clean(self):
                cleaned = super().clean()
                form_error_from(self, error)
                return cleaned

        return FormShowingRefusal


# --- Shops -----------------------------------------------------------------------------------


class ShopMembershipInline(ShopScopedAdminMixin, admin.TabularInline):
    model = ShopMembership
    extra = 0
    fields = ("user", "role", *MEMBERSHIP_FIELDS.values(), "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ()
    verbose_name = _("staff member")
    verbose_name_plural = _("staff members")

    # Operators decide who works for a shop; the owner (or an operator) decides what each staff
    # member may do (shop/services/staff_permissions.py); other staff only see the list.
    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        if obj is not None and staff_can_manage_staff(user=request.user, shop_id=obj.pk):
            return ("user", "role", "created_at")
        return self.fields

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        return obj is not None and staff_can_manage_staff(user=request.user, shop_id=obj.pk)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Shop)
class ShopAdmin(DomainErrorsShownOnFormMixin, ShopScopedModelAdmin):
    shop_path = "pk"
    list_display = ("name", "slug", "status", "owner", "product_count", "dashboard_link")
    list_filter = ("status",)
    search_fields = ("name", "slug", "description")
    inlines = [ShopMembershipInline]
    actions = [export_as_csv, "suspend_shops", "activate_shops"]
    csv_export_fields = ("id", "name", "slug", "status", "owner", "product_count")
    change_list_template = "admin/shop/shop/change_list.html"

    def get_fields(self, request, obj=None):
        return ("name", "slug", "logo", "description", "status", "owner")

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ("slug", "owner") if obj else ()
        return ("slug", "status", "owner")

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if obj is None and request.user.is_superuser else {}

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("suspend_shops", None)
            actions.pop("activate_shops", None)
        return actions

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).select_related("owner").annotate(_products=Count("products"))

    @admin.display(description=_("products"), ordering="_products")
    def product_count(self, shop):
        return getattr(shop, "_products", None)

    @admin.display(description=_("dashboard"))
    def dashboard_link(self, shop):
        url = reverse("admin:shop_shop_dashboard") + f"?shop={shop.pk}"
        return format_html('<a href="{}">{}</a>', url, _("dashboard"))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = services.shop_create(
                name=data["name"],
                slug=data["slug"],
                owner=data["owner"],
                description=data.get("description", ""),
                logo=data.get("logo") or None,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        logo = data.get("logo")
        new_logo = logo if logo and "logo" in form.changed_data else None
        services.shop_update(
            shop=obj,
            name=data["name"],
            description=data.get("description", ""),
            logo=new_logo,
            clear_logo=logo is False,
        )
        if request.user.is_superuser and "status" in data:
            services.shop_set_status(shop=obj, status=data["status"])

    def save_formset(self, request, form, formset, change):
        if formset.model is not ShopMembership:
            return super().save_formset(request, form, formset, change)
        shop = form.instance
        # Saved through the services below, not formset.save(); the change message still reads these.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() and not formset._should_delete_form(inline_form):
                continue
            user = inline_form.cleaned_data.get("user") or inline_form.instance.user
            if user is None:
                continue
            if formset._should_delete_form(inline_form):
                services.shop_member_remove(shop=shop, user=user)
                continue
            if request.user.is_superuser:
                services.shop_member_add(
                    shop=shop, user=user, role=inline_form.cleaned_data.get("role") or "staff"
                )
            staff_permissions_set(
                shop=shop,
                member_id=user.pk,
                actor=request.user,
                permissions={
                    permission: inline_form.cleaned_data[field]
                    for permission, field in MEMBERSHIP_FIELDS.items()
                    if field in inline_form.cleaned_data
                },
            )

    @admin.action(description=_("Suspend selected shops"))
    def suspend_shops(self, request, queryset):
        for shop in queryset:
            services.shop_set_status(shop=shop, status=Shop.Status.SUSPENDED)
        self.message_user(request, _("Shops suspended."))

    @admin.action(description=_("Re-open selected shops"))
    def activate_shops(self, request, queryset):
        for shop in queryset:
            services.shop_set_status(shop=shop, status=Shop.Status.ACTIVE)
        self.message_user(request, _("Shops re-opened."))

    def get_urls(self):
        from shop.views.dashboard import merchant_dashboard

        urls = [
            path(
                "dashboard/",
                self.admin_site.admin_view(lambda request: merchant_dashboard(request, model_admin=self)),
                name="shop_shop_dashboard",
            )
        ]
        return urls + super().get_urls()


# --- Categories: platform-wide, kept by operators; merchant staff may look them up ----------


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("__str__", "slug", "parent", "position")
    list_filter = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("parent__position", "position", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")

    def has_module_permission(self, request):
        return request.user.is_superuser or request_is_merchant_staff(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or request_is_merchant_staff(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


# --- Products ---------------------------------------------------------------------------------


class ProductImageForm(forms.ModelForm):
    class Meta:
        model = ProductImage
        fields = ("image", "position")

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        if upload and "image" in self.changed_data:
            try:
                services.image_validate(upload=upload)
            except DomainError as error:
                raise forms.ValidationError(error.message) from None
        return upload


class ProductImageInline(ShopScopedAdminMixin, admin.TabularInline):
    model = ProductImage
    form = ProductImageForm
    shop_path = "product__shop"
    extra = 1
    fields = ("preview", "image", "position")
    readonly_fields = ("preview",)
    verbose_name = _("image")
    verbose_name_plural = _("images (in display order; the first is the cover)")

    @admin.display(description=_("preview"))
    def preview(self, image):
        if not image.pk or not image.image:
            return ""
        return format_html('<img src="{}" width="80" height="80" alt="">', image.thumbnail.url)


class SpecDimensionForm(forms.ModelForm):
    values_text = forms.CharField(
        label=_("values"),
        help_text=_("Separated by commas, e.g. 红色, 蓝色"),
        widget=forms.TextInput(attrs={"size": 40}),
    )

    class Meta:
        model = SpecDimension
        fields = ("name", "position")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["values_text"].initial = ", ".join(v.value for v in self.instance.values.all())

    def validate_unique(self):
        # The service owns spec names per product (renames and re-orders happen there at once).
        pass


class SpecDimensionInline(ShopScopedAdminMixin, admin.TabularInline):
    model = SpecDimension
    form = SpecDimensionForm
    shop_path = "product__shop"
    extra = 1
    max_num = services.MAX_SPEC_DIMENSIONS
    fields = ("name", "values_text", "position")
    verbose_name = _("spec dimension")
    verbose_name_plural = _("specs (e.g. 颜色 × 尺码): saving regenerates the SKU grid below")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("values")


class SKUInlineForm(forms.ModelForm):
    """One row of the SKU grid.

    Every field carries the value shown when the page loaded (Django's hidden initial), so a save
    writes only what the merchant changed, compared with that value rather than with the row as it
    is now: a sale that took stock while the page was open is not undone by a title edit, and a stock
    edit on top of a moved number is refused by `sku_update` with the current number.
    """

    price = YuanField(label=_("price (yuan)"), show_hidden_initial=True)
    original_price = YuanField(label=_("original price (yuan)"), required=False, show_hidden_initial=True)

    # form field -> SKU field
    SKU_FIELDS = {
        "price": "price_fen",
        "original_price": "original_price_fen",
        "stock": "stock",
        "code": "code",
        "is_active": "is_active",
    }
    # Set on the form class when a save was refused because a value moved: the hidden initials then
    # take the row's current values, so saving again applies the merchant's numbers on purpose.
    reload_initials = False

    class Meta:
        model = SKU
        fields = ("code", "stock", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("stock", "code", "is_active"):
            self.fields[name].show_hidden_initial = True
        self.fields["stock"].min_value = 0
        self.fields["stock"].widget.attrs["min"] = 0
        if self.instance.pk:
            self.fields["price"].initial = self.instance.price_fen
            self.fields["original_price"].initial = self.instance.original_price_fen
            if self.is_bound and self.reload_initials:
                data = self.data.copy()
                for name in self.SKU_FIELDS:
                    field = self.fields[name]
                    value = field.prepare_value(self.get_initial_for_field(field, name))
                    if name == "is_active":
                        value = "on" if value else ""
                    data[self.add_initial_prefix(name)] = "" if value is None else value
                self.data = data

    def loaded_value(self, name):
        """The value this field had when the page loaded (None when the browser did not send it)."""
        field = self.fields[name]
        key = self.add_initial_prefix(name)
        if key not in self.data:
            return None
        raw = field.hidden_widget().value_from_datadict(self.data, self.files, key)
        try:
            return field.to_python(raw)
        except forms.ValidationError:
            return None

    def sku_changes(self) -> tuple[dict, dict]:
        """(values to write, values seen at page load), by SKU field, for the fields changed here."""
        changes, expected = {}, {}
        for name, sku_field in self.SKU_FIELDS.items():
            if name not in self.changed_data:
                continue
            value = self.cleaned_data.get(name)
            if name == "code":
                value = value or ""
            elif name == "is_active":
                value = bool(value)
            changes[sku_field] = value
            if self.add_initial_prefix(name) in self.data:
                loaded = self.loaded_value(name)
                expected[sku_field] = (loaded or "") if name == "code" else loaded
        return changes, expected

    def clean(self):
        cleaned = super().clean()
        price, original = cleaned.get("price"), cleaned.get("original_price")
        if price is not None and original is not None and original < price:
            self.add_error("original_price", _("The original price cannot be below the price."))
        stock = cleaned.get("stock")
        if stock is not None and stock < 0:
            self.add_error("stock", _("Stock cannot be negative."))
        return cleaned


class SKUInline(ShopScopedAdminMixin, admin.TabularInline):
    model = SKU
    form = SKUInlineForm
    shop_path = "product__shop"
    extra = 0
    fields = ("spec_label", "price", "original_price", "stock", "code", "is_active")
    readonly_fields = ("spec_label",)
    verbose_name = "SKU"
    verbose_name_plural = _("SKU grid (one row per spec combination)")

    # The grid is generated from the specs: no hand-made or deleted rows.
    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        may_price = obj is None or staff_can(
            user=request.user, shop_id=obj.shop_id, permission=StaffPermission.CHANGE_PRICES
        )
        if not may_price:
            # Shown but disabled: a posted price is ignored and the saved one kept (staff_permissions.py).
            class PriceLockedForm(formset.form):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, **kwargs)
                    for name in ("price", "original_price"):
                        self.fields[name].disabled = True
                        self.fields[name].help_text = _(
                            "Only the shop owner, or staff the owner allowed, may change prices."
                        )

            formset.form = PriceLockedForm
        if isinstance(getattr(request, "_catalog_domain_error", None), services.EditConflict):
            formset.form = type("SKUInlineFormReloaded", (formset.form,), {"reload_initials": True})
        return formset


class ProductAdminForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ("shop", "category", "title", "subtitle", "description", "status")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "shop" in self.fields and self.fields["shop"].queryset.count() == 1:
            self.fields["shop"].initial = self.fields["shop"].queryset.first()


class StockLevelFilter(admin.SimpleListFilter):
    title = _("stock")
    parameter_name = "stock_level"
    LOW = 5

    def lookups(self, request, model_admin):
        return [("sold_out", _("sold out")), ("low", _("low (≤ 5)"))]

    def queryset(self, request, queryset):
        prefix = "" if queryset.model is SKU else "skus__"
        if self.value() == "sold_out":
            return queryset.filter(**{f"{prefix}stock": 0, f"{prefix}is_active": True}).distinct()
        if self.value() == "low":
            return queryset.filter(**{f"{prefix}stock__lte": self.LOW, f"{prefix}is_active": True}).distinct()
        return queryset


class SetStockForm(forms.Form):
    stock = forms.IntegerField(label=_("stock"), min_value=0, max_value=services.MAX_STOCK)


def _set_stock_action(modeladmin, request, queryset, *, apply):
    """Shared by products and SKUs: ask for a number on an intermediate page, then apply it."""
    form = SetStockForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        changed = apply(queryset, form.cleaned_data["stock"])
        modeladmin.message_user(
            request, ngettext("%(n)d SKU changed.", "%(n)d SKUs changed.", changed) % {"n": changed}
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Set stock"),
        "form": form,
        "queryset": queryset,
        "opts": modeladmin.model._meta,
        "action_name": request.POST.get("action", "set_stock"),
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, "admin/shop/set_stock.html", context)


@admin.register(Product)
class ProductAdmin(SheetImportExportMixin, DomainErrorsShownOnFormMixin, ShopScopedModelAdmin):
    resource_classes = [ProductResource]
    form = ProductAdminForm
    list_display = ("title", "shop", "category", "status", "price_display", "stock_total", "sales_count")
    list_filter = ("status", "shop", "category", StockLevelFilter)
    search_fields = ("title", "subtitle", "skus__code")
    list_select_related = ("shop", "category", "category__parent")
    inlines = [ProductImageInline, SpecDimensionInline, SKUInline]
    autocomplete_fields = ("category",)
    actions = ["put_on_sale", "take_off_shelf", "set_stock", export_as_csv]
    csv_export_fields = (
        "id",
        "title",
        "shop",
        "category",
        "status",
        "price_display",
        "stock_total",
        "sales_count",
    )
    readonly_fields = ("sales_count", "like_count", "created_at", "updated_at")
    change_list_template = "admin/shop/product/change_list.html"
    change_form_template = "admin/shop/product/change_form.html"
    fieldsets = (
        (None, {"fields": ("shop", "category", "title", "subtitle", "description", "status")}),
        (_("numbers"), {"fields": ("sales_count", "like_count", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        from django.db.models import Sum

        return super().get_queryset(request).annotate(_stock=Sum("skus__stock"))

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "shop") if obj is not None else fields

    @admin.display(description=_("price"), ordering="price_fen")
    def price_display(self, product):
        return format_fen(product.price_fen)

    @admin.display(description=_("stock"), ordering="_stock")
    def stock_total(self, product):
        return getattr(product, "_stock", None)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = services.product_create(
                shop=data["shop"],
                category=data["category"],
                title=data["title"],
                subtitle=data.get("subtitle", ""),
                description=data.get("description", ""),
            )
            obj.pk = created.pk
            obj.refresh_from_db()
        else:
            services.product_update(
                product=obj,
                category=data["category"],
                title=data["title"],
                subtitle=data.get("subtitle", ""),
                description=data.get("description", ""),
            )

    def save_related(self, request, form, formsets, change):
        product = form.instance
        for formset in formsets:  # what the admin's change message reads; services did the saving
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        by_model = {formset.model: formset for formset in formsets}
        if ProductImage in by_model:
            self._save_images(product, by_model[ProductImage])
        if SKU in by_model:
            self._save_skus(by_model[SKU])
        if SpecDimension in by_model:
            may_price = staff_can(
                user=request.user, shop_id=product.shop_id, permission=StaffPermission.CHANGE_PRICES
            )
            self._save_specs(product, by_model[SpecDimension], price_new_skus=may_price)
        services.product_set_status(product=product, status=form.cleaned_data["status"])
        product.refresh_from_db()

    @staticmethod
    def _save_images(product, formset):
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            if not data:
                continue
            image = inline_form.instance
            if formset._should_delete_form(inline_form):
                if image.pk:
                    services.product_image_delete(image=image)
                continue
            upload = data.get("image") if "image" in inline_form.changed_data else None
            position = data.get("position") or 0
            if image.pk:
                services.product_image_update(image=image, position=position, upload=upload)
            elif upload:
                services.product_image_add(product=product, upload=upload, position=position)

    @staticmethod
    def _save_skus(formset):
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            if not data or not inline_form.instance.pk:
                continue
            changes, expected = inline_form.sku_changes()
            if changes:
                services.sku_update(sku=inline_form.instance, expected=expected, **changes)

    @staticmethod
    def _save_specs(product, formset, *, price_new_skus: bool = True):
        if not formset.has_changed():
            return
        rows = []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            if not data or formset._should_delete_form(inline_form):
                continue
            rows.append(
                (
                    data.get("position") or 0,
                    services.SpecInput(
                        name=data.get("name", ""),
                        values=services.split_spec_values(data.get("values_text", "")),
                    ),
                )
            )
        rows.sort(key=lambda row: row[0])
        services.product_specs_set(
            product=product, specs=[spec for _position, spec in rows], price_new_skus=price_new_skus
        )

    @admin.action(description=_("Put selected products on sale"))
    def put_on_sale(self, request, queryset):
        self._report(request, services.products_set_status(products=queryset, status=Product.Status.ON_SALE))

    @admin.action(description=_("Take selected products off shelf"))
    def take_off_shelf(self, request, queryset):
        self._report(
            request, services.products_set_status(products=queryset, status=Product.Status.OFF_SHELF)
        )

    def _report(self, request, result):
        if result.changed:
            self.message_user(
                request,
                ngettext("%(n)d product changed.", "%(n)d products changed.", len(result.changed))
                % {"n": len(result.changed)},
            )
        for _product, message in result.refused:
            self.message_user(request, message, messages.ERROR)
        if not result.changed and not result.refused:
            self.message_user(request, _("Nothing to change."), messages.INFO)

    @admin.action(description=_("Set stock of selected products' SKUs"))
    def set_stock(self, request, queryset):
        return _set_stock_action(
            self,
            request,
            queryset,
            apply=lambda products, stock: services.products_stock_set(products=products, stock=stock),
        )


@admin.register(SKU)
class SKUAdmin(SheetImportExportMixin, ShopScopedModelAdmin):
    """Stock at a glance across products: filter sold out or low, set stock in bulk, export and
    import the SKU sheet (price, stock, code per SKU)."""

    resource_classes = [SKUResource]
    shop_path = "product__shop"
    list_display = ("product", "spec_label", "code", "price_display", "stock", "is_active")
    list_filter = (StockLevelFilter, "is_active", "product__shop")
    search_fields = ("product__title", "spec_label", "code")
    list_select_related = ("product", "product__shop")
    actions = ["set_stock", export_as_csv]
    csv_export_fields = ("id", "product", "spec_label", "code", "price_display", "stock", "is_active")
    fields = ("product", "spec_label", "code", "price_display", "original_price", "stock", "is_active")
    readonly_fields = fields
    original_price = yuan_display("original_price_fen", _("original price"))

    @admin.display(description=_("price"), ordering="price_fen")
    def price_display(self, sku):
        return format_fen(sku.price_fen)

    # SKUs are made by their product's spec grid and edited there; this screen is for stock.
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Set stock of selected SKUs"))
    def set_stock(self, request, queryset):
        return _set_stock_action(
            self,
            request,
            queryset,
            apply=lambda skus, stock: services.skus_stock_set(
                shop_ids=None, items=[(sku.pk, stock) for sku in skus]
            ),
        )
