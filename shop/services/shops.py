"""Shops and their staff: opening a shop, its public face and status, members.

A change to a shop's face or status drops the cached storefront parts of all its products.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from config.exceptions import DomainError, Forbidden
from shop.catalog_cache import catalog_cache_invalidate
from shop.models import Shop, ShopMembership
from shop.services.catalog_input import image_validate
from shop.services.errors import SlugTaken


def shop_create(*, name: str, slug: str, owner, description: str = "", logo=None) -> Shop:
    """Open a shop (operators only, through the admin). The owner becomes a member with role owner.

    Repeating the call with the same slug and owner returns the existing shop unchanged; a slug used
    by another owner's shop is refused.
    """
    with transaction.atomic():
        existing = Shop.objects.filter(slug=slug).first()
        if existing is not None:
            if existing.owner_id != owner.pk:
                raise SlugTaken(field="slug")
            return existing
        if logo:
            image_validate(upload=logo, field="logo")
        shop = Shop.objects.create(
            name=name, slug=slug, owner=owner, description=description, logo=logo or ""
        )
        ShopMembership.objects.create(shop=shop, user=owner, role=ShopMembership.Role.OWNER)
        _ensure_staff_flag(owner)
    return shop


def shop_update(*, shop: Shop, name: str, description: str, logo=None, clear_logo: bool = False) -> Shop:
    """Change a shop's public face. Unchanged values write nothing."""
    with transaction.atomic():
        shop = Shop.objects.select_for_update().get(pk=shop.pk)
        changed = []
        if shop.name != name:
            shop.name = name
            changed.append("name")
        if shop.description != description:
            shop.description = description
            changed.append("description")
        if logo:
            image_validate(upload=logo, field="logo")
            shop.logo = logo
            changed.append("logo")
        elif clear_logo and shop.logo:
            shop.logo = ""
            changed.append("logo")
        if changed:
            shop.save(update_fields=changed)
            catalog_cache_invalidate(product_ids=shop.products.values_list("id", flat=True))
    return shop


def shop_set_status(*, shop: Shop, status: str) -> Shop:
    """Operators suspend or re-open a shop. A suspended shop's products vanish from the storefront."""
    if status not in Shop.Status.values:
        raise DomainError(_("Unknown shop status."), field="status")
    with transaction.atomic():
        shop = Shop.objects.select_for_update().get(pk=shop.pk)
        if shop.status != status:
            shop.status = status
            shop.save(update_fields=["status"])
            catalog_cache_invalidate(product_ids=shop.products.values_list("id", flat=True))
    return shop


def _ensure_staff_flag(user) -> None:
    # Merchant staff work in the admin, which needs is_staff; membership is what scopes them.
    if not user.is_staff:
        type(user).objects.filter(pk=user.pk).update(is_staff=True)
        user.is_staff = True


def shop_member_add(*, shop: Shop, user, role: str = ShopMembership.Role.STAFF) -> ShopMembership:
    """Make a user staff of a shop (idempotent: an existing membership keeps its role)."""
    with transaction.atomic():
        membership, _created = ShopMembership.objects.get_or_create(
            shop=shop, user=user, defaults={"role": role}
        )
        _ensure_staff_flag(user)
    return membership


def shop_member_remove(*, shop: Shop, user) -> None:
    """Remove a staff member. The owner's membership cannot be removed."""
    with transaction.atomic():
        if shop.owner_id == user.pk:
            raise DomainError(_("The owner cannot be removed from their shop."), field="user")
        ShopMembership.objects.filter(shop=shop, user=user).delete()


def shop_require_member(*, shop: Shop, user) -> None:
    """Raise Forbidden unless the user may manage the shop (member or operator)."""
    if user.is_superuser:
        return
    if not ShopMembership.objects.filter(shop=shop, user=user).exists():
        raise Forbidden()
