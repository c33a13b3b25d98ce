"""One rule for the whole merchant admin: staff see and change only their own shops' rows.

Every shop-owned ModelAdmin (and inline) mixes in ShopScopedAdminMixin and names the path from its
model to Shop in `shop_path`. Change lists, change pages opened by URL, search, autocomplete,
exports and actions all start from `get_queryset`, so scoping it scopes them all. The holes that do
not start from `get_queryset` are closed here too:

- foreign-key and many-to-many choices (a SKU's spec values, a product's shop, an inline's parent)
  are narrowed for every model registered in SHOP_PATHS, not only for Shop;
- sidebar filters on a related model list only the staff member's own rows
  (ShopScopedRelatedFieldListFilter, applied automatically to plain related-field filters);
- inline permission checks get the parent object, so they are checked against the parent's shop.

Operators (superusers) see everything. `export_as_csv` is a scoped CSV export action.
"""

import csv
import datetime

from django.contrib import admin
from django.db import models
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.admin.lists import ConstantTimeListMixin
from shop.models import (
    SKU,
    Order,
    OrderLine,
    Product,
    ProductImage,
    Shop,
    ShopMembership,
    SpecDimension,
    SpecValue,
)

# How to get from a shop-owned model to its Shop. Other areas register theirs with register_shop_path.
SHOP_PATHS: dict[type[models.Model], str] = {
    Shop: "pk",
    ShopMembership: "shop",
    Product: "shop",
    ProductImage: "product__shop",
    SpecDimension: "product__shop",
    SpecValue: "dimension__product__shop",
    SKU: "product__shop",
    Order: "shop",
    OrderLine: "order__shop",
}


def register_shop_path(model: type[models.Model], path: str) -> None:
    SHOP_PATHS[model] = path


def managed_shops(user):
    return Shop.objects.managed_by(user)


def is_merchant_staff(user) -> bool:
    return user.is_active and user.is_staff and (user.is_superuser or user.shop_memberships.exists())


def request_shop_ids(request) -> list[int] | None:
    """The ids of the shops the signed-in user manages (None for operators: every shop), looked up once
    per request. Lists then filter by `shop_id IN (ids)` through the shop indexes, and the admin's many
    permission checks per page (sidebar, rows, actions) cost no further query."""
    if not hasattr(request, "_backoffice_shop_ids"):
        user = request.user
        if user.is_superuser:
            request._backoffice_shop_ids = request._backoffice_shop_names = None
        else:
            # The names come with the ids (the same query): every page shows whose back office it is.
            rows = list(managed_shops(user).order_by("pk").values_list("pk", "name"))
            request._backoffice_shop_ids = [pk for pk, _name in rows]
            request._backoffice_shop_names = [name for _pk, name in rows]
    return request._backoffice_shop_ids


def request_shop_names(request) -> list[str] | None:
    """The names of the shops of request_shop_ids (None for operators), from the same query."""
    request_shop_ids(request)
    return request._backoffice_shop_names


def request_is_merchant_staff(request) -> bool:
    """is_merchant_staff for the signed-in user, answered from request_shop_ids (no extra query)."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or bool(request_shop_ids(request))


def scope_queryset(queryset, user, path: str | None = None):
    """Narrow any queryset of a shop-owned model to the user's shops (operators: unchanged)."""
    if user.is_superuser:
        return queryset
    path = path or SHOP_PATHS[queryset.model]
    return queryset.filter(**{f"{path}__in": managed_shops(user)})


class ShopScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A sidebar filter on a shop-owned related model that lists only the staff member's rows."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        if related not in SHOP_PATHS or request.user.is_superuser:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin) or related._meta.ordering
        queryset = scope_queryset(related._default_manager.all(), request.user)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


def _shop_id_of(obj) -> int | None:
    path = SHOP_PATHS.get(type(obj))
    if path == "pk":
        return obj.pk
    if path == "shop":
        return obj.shop_id
    return None


class ShopScopedAdminMixin:
    shop_path = "shop"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.shop_path}__in": request_shop_ids(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related in SHOP_PATHS and not request.user.is_superuser and "queryset" not in kwargs:
            kwargs["queryset"] = scope_queryset(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        related = db_field.related_model
        if related in SHOP_PATHS and not request.user.is_superuser and "queryset" not in kwargs:
            kwargs["queryset"] = scope_queryset(related._default_manager.all(), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry:
                field = self.model._meta.get_field(entry)
                if field.is_relation and field.related_model in SHOP_PATHS:
                    entry = (entry, ShopScopedRelatedFieldListFilter)
            filters.append(entry)
        return filters

    # Merchant staff need no per-model Django permissions: membership of a shop is the permission,
    # and the queryset above is the fence. Object checks re-test membership for pages opened by URL.
    def _allowed(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if not request_is_merchant_staff(request):
            return False
        if obj is None:
            return True
        # The row's own shop, when the row says it (a shop, or a row with a `shop` key): checked
        # against the shop ids already looked up, no query. Other rows ask the database.
        shop_id = _shop_id_of(obj)
        if shop_id is not None:
            return shop_id in request_shop_ids(request)
        if isinstance(obj, self.model):
            return self.get_queryset(request).filter(pk=obj.pk).exists()
        # Inlines are asked about their parent object.
        if obj.pk is None:
            return True
        if type(obj) in SHOP_PATHS:
            return scope_queryset(type(obj)._default_manager.filter(pk=obj.pk), request.user).exists()
        return False

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request, *args):
        obj = args[0] if args else None  # inlines pass the parent object
        return self._allowed(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)


class ShopScopedModelAdmin(ConstantTimeListMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    """A shop-owned model's admin: scoped to the user's shops, lists that never count a large table."""


def export_as_csv(modeladmin, request, queryset):
    """Admin action: the selected rows as CSV, with the columns of `csv_export_fields` (or the
    change list's). The queryset is the change list's, so it is already scoped to the user's shops."""
    fields = list(getattr(modeladmin, "csv_export_fields", None) or modeladmin.get_list_display(request))
    fields = [f for f in fields if f != "action_checkbox"]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{modeladmin.model._meta.model_name}-{stamp}.csv"'
    )
    response.write("\ufeff")  # so spreadsheet programs read the Chinese text as UTF-8
    writer = csv.writer(response)
    writer.writerow(fields)
    for obj in queryset:
        row = []
        for name in fields:
            value = getattr(modeladmin, name, None)
            if callable(value):
                value = value(obj)
            else:
                value = getattr(obj, name, "")
                if callable(value):
                    value = value()
            if isinstance(value, datetime.datetime):
                value = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")  # the shop's time zone
            row.append("" if value is None else str(value))
        writer.writerow(row)
    return response


export_as_csv.short_description = _("Export selected as CSV")
