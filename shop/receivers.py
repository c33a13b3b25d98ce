"""Receivers inside the shop app: its own domain signals (see shop/signals.py) and sign-in."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in, dispatch_uid="shop.merge_anonymous_cart")
def merge_anonymous_cart(sender, request, user, **kwargs):
    """The cart a shopper filled before signing in joins their own cart."""
    if request is None or not hasattr(request, "session"):
        return
    from shop.services.cart import cart_merge
    from shop.views.cart import SESSION_CART_ID

    cart_id = request.session.pop(SESSION_CART_ID, None)
    if cart_id:
        cart_merge(anonymous_cart_id=cart_id, user=user)


# The catalog cache's receivers (cached storefront parts follow order events) live in its module.
from shop import catalog_cache as _catalog_cache_receivers  # noqa: E402, F401
