"""The catalog cache: what every shopper shares is cached, what is theirs is layered on per request.

Shared parts (a product page's body, the API's representation of a product, list pages and API list
pages) are stored in Django's cache for at most `CATALOG_CACHE_SECONDS`, so a figure is never shown
staler than that even if a drop below was missed (Redis away for a moment). They are dropped early,
on commit of the change that alters them, with the narrowest reach that is still correct:

- by product: every key of a product (its page and its API representation, in every language) is
  deleted when the product, its SKUs, images, specs or shop change, and when an order or a ♡ moves
  its stock, sales or likes;
- by generation: list pages (home, shop, category, API lists) are stored with the catalog generation
  they were built at and read together with the current one in one round trip. A change that can
  add, remove or reorder products in a list, or alter a card (title, price, cover, shop, category,
  status), bumps the generation and so retires them all. Orders and ♡s do not: a list shows no stock,
  and its sales and ♡ counts may lag by at most `CATALOG_CACHE_SECONDS`.

Checkout never reads any of this: it locks and reads SKUs in PostgreSQL.

Every cache call goes through Django's cache API, so any backend configured in settings works; a
cache that cannot be reached costs speed (the page is built from the database), never an answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from shop import signals

# Bumped by catalog changes that can alter any list. Never expires: an evicted generation comes
# back as 1, and stored lists carry the value they were built at, so a mismatch is a rebuild.
GENERATION_KEY = "catalog:generation"

# The kinds of shared entry kept per product and language.
PRODUCT_KINDS = ("page", "api")


def product_key(kind: str, product_id: int, language: str) -> str:
    """Key of one shared entry of a product: `kind` is "page" (its page body) or "api"."""
    return f"catalog:product:{kind}:{product_id}:{language}"


def product_keys(product_id: int) -> list[str]:
    """Every shared entry of a product, in every language."""
    return [
        product_key(kind, product_id, code) for kind in PRODUCT_KINDS for code, _name in settings.LANGUAGES
    ]


def list_key(*, name: str, language: str, parts: Iterable) -> str:
    """Key of a shared list page (`name` says which list, `parts` its slug, page, filters)."""
    joined = ":".join(str(part) for part in parts)
    return f"catalog:list:{name}:{language}:{joined}"


def generation() -> int:
    """The current catalog generation (created at 1 the first time it is asked for)."""
    value = cache.get(GENERATION_KEY)
    if value is None:
        # add() so two processes starting at once agree on one value.
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY) or 1
    return int(value)


def list_get(key: str) -> tuple[int, object | None]:
    """(current generation, the list entry stored under `key` at that generation or None): one round trip."""
    found = cache.get_many([GENERATION_KEY, key])
    current = found.get(GENERATION_KEY) or generation()
    entry = found.get(key)
    if entry is not None and entry[0] == current:
        return current, entry[1]
    return current, None


def list_set(key: str, built_at: int, value) -> None:
    """Store a list entry built at generation `built_at`."""
    cache.set(key, (built_at, value), settings.CATALOG_CACHE_SECONDS)


def shared_get(key: str):
    return cache.get(key)


def shared_set(key: str, value) -> None:
    cache.set(key, value, settings.CATALOG_CACHE_SECONDS)


def catalog_cache_invalidate(*, product_ids: Iterable[int] = (), lists: bool = True) -> None:
    """Drop the shared parts that may show these products, once the transaction commits.

    The products' own entries are deleted. With `lists` (the default: any edit of what a card shows
    or of what a list holds) the generation is bumped too, retiring every list page. Stock, sales and
    ♡ counts moved by orders and likes pass `lists=False`: lists show no stock, and their counts may
    lag by at most CATALOG_CACHE_SECONDS.
    """
    ids = sorted(set(product_ids))

    def drop():
        keys = [key for product_id in ids for key in product_keys(product_id)]
        if keys:
            cache.delete_many(keys)
        if lists:
            try:
                cache.incr(GENERATION_KEY)
            except ValueError:  # not set yet (or evicted): any new value retires the old list keys
                cache.set(GENERATION_KEY, 1, timeout=None)

    transaction.on_commit(drop)


# --- Orders move stock and sales: the parts showing them follow ------------------------------


@receiver(signals.order_placed, dispatch_uid="catalog-cache-order-placed")
@receiver(signals.order_paid, dispatch_uid="catalog-cache-order-paid")
@receiver(signals.order_cancelled, dispatch_uid="catalog-cache-order-cancelled")
@receiver(signals.order_refunded, dispatch_uid="catalog-cache-order-refunded")
def catalog_cache_follows_orders(sender, order, **kwargs):
    """Orders take and return stock and add sales: drop the shared parts of the products involved,
    and only those (list pages stay: they show neither stock nor anything an order changes at once).

    Code that changes stock outside an order event calls catalog_cache_invalidate itself.
    """
    if "lines" in getattr(order, "_prefetched_objects_cache", {}):  # checkout hands over its lines
        product_ids = [line.product_id for line in order.lines.all() if line.product_id]
    else:
        product_ids = [pid for pid in order.lines.values_list("product_id", flat=True) if pid]
    catalog_cache_invalidate(product_ids=product_ids, lists=False)
