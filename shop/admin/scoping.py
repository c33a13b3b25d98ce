"""One rule for the whole merchant admin: staff see and change only their own shops' rows.

Every shop-owned ModelAdmin (and inline) mixes in ShopScopedAdminMixin and names the path from its
model to Shop in `shop_path`. Change lists, change pages opened by URL, search, autocomplete,
exports and actions all start from `get_queryset`, so scoping it scopes them all; foreign-key
choices to Shop are narrowed too. Operators (superusers) see everything.
"""

from django.contrib import admin

from shop.models import Shop


def managed_shops(user):
    return Shop.objects.managed_by(user)


def is_merchant_staff(user) -> bool:
    return user.is_active and user.is_staff and (user.is_superuser or user.shop_memberships.exists())


class ShopScopedAdminMixin:
    shop_path = "shop"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.shop_path}__in": managed_shops(request.user)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Shop and not request.user.is_superuser:
            kwargs["queryset"] = managed_shops(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # Merchant staff need no per-model Django permissions: membership of a shop is the permission,
    # and the queryset above is the fence. Object checks re-test membership for pages opened by URL.
    def _allowed(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if not is_merchant_staff(request.user):
            return False
        if obj is None:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

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


class ShopScopedModelAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
    pass
