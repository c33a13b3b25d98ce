"""Reads about a shop's people and what each may do (the rules: shop/services/staff_permissions.py)."""

from django.db.models import QuerySet

from shop.models import Shop, ShopMembership


def shop_for_member(*, user, shop_id: int) -> Shop | None:
    """The shop if `user` works for it (or is an operator); None otherwise, as for a missing shop."""
    return Shop.objects.managed_by(user).filter(pk=shop_id).first()


def staff_list(*, shop: Shop) -> QuerySet[ShopMembership]:
    """The shop's members, owner first, with their users."""
    return ShopMembership.objects.filter(shop=shop).select_related("user").order_by("-role", "pk")
