"""Operator admin for people: users, addresses, friend requests, notifications. Superusers only.

Merchant staff also sign in to the admin (is_staff) but must never see other people's data, so every
screen here checks is_superuser rather than relying on Django model permissions.

These tables grow with the platform, so their lists cost the same at any size (config/admin_lists.py):
counts stop at 10,000, newest first by primary key (an index every table has), and searches are exact
and indexed (a phone number, a notification's key) instead of LIKE over every row.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Address, FriendRequest, Notification, User
from accounts.signin import LockoutAwareAuthenticationMixin
from config.admin_lists import ConstantTimeListMixin


class SignInGuardedAdminAuthenticationForm(LockoutAwareAuthenticationMixin, AdminAuthenticationForm):
    """The admin's sign-in form, saying when the sign-in guard (accounts/signin.py) refused."""


# The admin sign-in is counted like every other sign-in; this only words the refusal.
admin.site.login_form = SignInGuardedAdminAuthenticationForm


class OperatorsOnlyMixin:
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


def _user_ids_by_phone(phone: str) -> list[int]:
    return list(User.objects.filter(phone=phone).values_list("pk", flat=True)) if phone else []


class PhoneUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("phone", "nickname")


class PhoneUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class AddressInline(OperatorsOnlyMixin, admin.TabularInline):
    model = Address
    extra = 0
    fields = ("recipient_name", "phone", "province", "city", "district", "detail", "is_default")


@admin.register(User)
class UserAdmin(OperatorsOnlyMixin, ConstantTimeListMixin, DjangoUserAdmin):
    form = PhoneUserChangeForm
    add_form = PhoneUserCreationForm
    ordering = ("-pk",)  # newest first, through the primary key (date_joined has no index)
    list_display = ("phone", "nickname", "email", "is_staff", "is_superuser", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("phone",)
    phone_search_fields = ("phone",)
    readonly_fields = ("last_login", "date_joined")
    inlines = [AddressInline]
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        (_("Profile"), {"fields": ("nickname", "email", "avatar")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("phone", "nickname", "password1", "password2")}),
    )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # addresses once the person exists


@admin.register(Address)
class AddressAdmin(OperatorsOnlyMixin, ConstantTimeListMixin, admin.ModelAdmin):
    list_display = ("recipient_name", "phone", "province", "city", "district", "user", "is_default")
    list_select_related = ("user",)
    ordering = ("-pk",)
    # The owner's phone number (an address's own phone is not indexed).
    search_fields = ("user__phone",)
    raw_id_fields = ("user",)

    def search_related_ids(self, request, term, phone):
        return {"user_id": _user_ids_by_phone(phone)}


@admin.register(FriendRequest)
class FriendRequestAdmin(OperatorsOnlyMixin, ConstantTimeListMixin, admin.ModelAdmin):
    list_display = ("from_user", "to_user", "status", "created_at", "answered_at")
    list_select_related = ("from_user", "to_user")
    list_filter = ("status",)
    ordering = ("-pk",)
    search_fields = ("from_user__phone", "to_user__phone")
    raw_id_fields = ("from_user", "to_user")

    def search_related_ids(self, request, term, phone):
        ids = _user_ids_by_phone(phone)
        return {"from_user_id": ids, "to_user_id": ids}


@admin.register(Notification)
class NotificationAdmin(OperatorsOnlyMixin, ConstantTimeListMixin, admin.ModelAdmin):
    list_display = ("title", "user", "kind", "created_at", "read_at", "emailed_at")
    list_select_related = ("user",)
    list_filter = ("kind",)
    ordering = ("-pk",)
    # A notification's key (unique), or the phone number of the person it was for. No date_hierarchy:
    # its drill-down runs DISTINCT DATE_TRUNC over every row.
    search_fields = ("key", "user__phone")
    exact_search_fields = ("key",)
    raw_id_fields = ("user",)
    readonly_fields = ("key", "created_at", "read_at", "emailed_at")

    def search_related_ids(self, request, term, phone):
        return {"user_id": _user_ids_by_phone(phone)}
