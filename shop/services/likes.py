"""♡: a shopper likes or unlikes a product; Product.like_count follows by relative updates.

A ♡ drops the product's own cached parts but leaves list pages: the ♡ state is layered per visitor,
and a list's ♡ count may lag by at most CATALOG_CACHE_SECONDS.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import Friendship
from config.exceptions import DomainError
from shop.catalog_cache import catalog_cache_invalidate, friends_liked_invalidate
from shop.models import Product, ProductLike


def product_like(*, user, product: Product) -> bool:
    """The user ♡s the product. Returns True if this call added the like (False if it was there).

    Only products a shopper can see may be liked. Keeps Product.like_count by a relative update.
    """
    if not Product.objects.on_sale().filter(pk=product.pk).exists():
        raise DomainError(_("This product is not on sale."), field="product")
    try:
        with transaction.atomic():
            _like, created = ProductLike.objects.get_or_create(user=user, product=product)
            if created:
                Product.objects.filter(pk=product.pk).update(like_count=F("like_count") + 1)
                catalog_cache_invalidate(product_ids=[product.pk], lists=False)
                _friends_see_it(user)
    except IntegrityError:  # the same like raced in from another request
        return False
    return created


def product_unlike(*, user, product: Product) -> bool:
    """Remove the user's ♡. Returns True if a like was removed."""
    with transaction.atomic():
        deleted, _rows = ProductLike.objects.filter(user=user, product=product).delete()
        if deleted:
            Product.objects.filter(pk=product.pk, like_count__gt=0).update(like_count=F("like_count") - 1)
            catalog_cache_invalidate(product_ids=[product.pk], lists=False)
            _friends_see_it(user)
    return bool(deleted)


def _friends_see_it(user) -> None:
    # The user's friends' 朋友♡ sections count this ♡.
    befriended_by = Friendship.objects.filter(friend=user).values_list("user_id", flat=True)
    friends_liked_invalidate(user_ids=list(befriended_by))
