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

Personal parts are never stored with the shared ones. A shared page is rendered with markers where
they go (`<!--personal:NAME-->` or `<!--personal:NAME:ID-->`, plus a placeholder for the CSRF token),
and `page_response` fills the markers for the visitor asking, from a handful of small queries and
small templates (see PERSONAL_PARTS). A marker cannot come from what merchants or shoppers type:
text is escaped and descriptions are sanitised, both of which remove `<!--`.

Every cache call goes through Django's cache API, so any backend configured in settings works; a
cache that cannot be reached costs speed (the page is built from the database), never an answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import get_template, render_to_string

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


def query_digest(params) -> str:
    """A short, order-independent name for a query string (a QueryDict), to put in a list key."""
    items = sorted((name, value) for name in params for value in params.getlist(name))
    return hashlib.blake2b(urlencode(items).encode(), digest_size=12).hexdigest() if items else "-"


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


# --- Per-visitor layering ----------------------------------------------------------------------

CSRF_PLACEHOLDER = "__weshop_csrf_placeholder__"
MARKER = re.compile(r"<!--personal:([a-z_]+)((?::\d+)*)-->")


def shared_render(request, template: str, context: dict) -> str:
    """Render the part of a page every visitor shares: personal parts come out as markers.

    The templates of such pages extend shop/storefront/layered.html and put markers, never `user`,
    where a visitor's own data goes; the CSRF token is a placeholder.
    """
    return render_to_string(template, {**context, "csrf_token": CSRF_PLACEHOLDER}, request)


class Visitor:
    """What is personal about one request, each fact read at most once, for all markers together."""

    def __init__(self, request, markers: list[tuple[str, tuple[int, ...]]]):
        self.request = request
        self.user = request.user
        self.ids_by_name: dict[str, set[int]] = {}
        for name, args in markers:
            if args:
                self.ids_by_name.setdefault(name, set()).add(args[0])
        self._facts: dict[str, object] = {}

    def _once(self, name: str, read: Callable[[], object]):
        if name not in self._facts:
            self._facts[name] = read()
        return self._facts[name]

    def liked_ids(self) -> set[int]:
        from shop.selectors.catalog import liked_product_ids

        ids = self.ids_by_name.get("heart", set()) | self.ids_by_name.get("like_form", set())
        return self._once(
            "liked", lambda: liked_product_ids(user=self.user, product_ids=ids) if ids else set()
        )

    def bought_ids(self) -> set[int]:
        from shop.selectors.orders import products_bought

        ids = self.ids_by_name.get("bought", set())
        return self._once(
            "bought", lambda: products_bought(user=self.user, product_ids=ids) if ids else set()
        )

    def cart_count(self) -> int:
        from shop.selectors.orders import cart_item_count
        from shop.views.cart import SESSION_CART_ID

        def read():
            cart_id = None
            if not self.user.is_authenticated and settings.SESSION_COOKIE_NAME in self.request.COOKIES:
                cart_id = self.request.session.get(SESSION_CART_ID)
            return cart_item_count(user=self.user, cart_id=cart_id)

        return self._once("cart_count", read)


def _fragment(template: str, context: dict) -> str:
    # Rendered without context processors: a fragment is given exactly what it shows.
    return get_template(template).render(context)


def _nav(visitor: Visitor, args) -> str:
    def unread():
        from accounts.selectors import notification_unread_count

        return notification_unread_count(user=visitor.user)

    return _fragment(
        "partials/topbar_nav.html",
        {"user": visitor.user, "request": visitor.request, "inbox_unread_count": unread},
    )


def _messages(visitor: Visitor, args) -> str:
    cookies = visitor.request.COOKIES
    if "messages" not in cookies and settings.SESSION_COOKIE_NAME not in cookies:
        return ""  # no cookie, no session: nothing can be waiting
    return _fragment("partials/messages.html", {"messages": get_messages(visitor.request)})


def _cart_badge(visitor: Visitor, args) -> str:
    return _fragment("shop/personal/cart_badge.html", {"cart_count": visitor.cart_count()})


def _heart(visitor: Visitor, args) -> str:
    liked = args[0] in visitor.liked_ids()
    return visitor._once(f"heart:{liked}", lambda: _fragment("shop/personal/heart.html", {"liked": liked}))


def _like_form(visitor: Visitor, args) -> str:
    product_id, like_count = args
    return _fragment(
        "shop/personal/like_form.html",
        {
            "product_id": product_id,
            "like_count": like_count,
            "liked": product_id in visitor.liked_ids(),
            "next": visitor.request.path,
            "csrf_token": CSRF_PLACEHOLDER,
        },
    )


def _bought(visitor: Visitor, args) -> str:
    if args[0] not in visitor.bought_ids():
        return ""
    return _fragment("shop/personal/bought.html", {})


def _friends_liked(visitor: Visitor, args) -> str:
    from shop.selectors.catalog import friends_liked_products, product_cover

    products = friends_liked_products(user=visitor.user, limit=8)
    for product in products:
        product.cover = product_cover(product)
    return _fragment("shop/personal/friends_liked.html", {"user": visitor.user, "friends_liked": products})


# Marker name -> what fills it for the visitor. A page may use any of them.
PERSONAL_PARTS: dict[str, Callable[[Visitor, tuple[int, ...]], str]] = {
    "nav": _nav,  # who is signed in, inbox badge (or the sign-in link)
    "messages": _messages,  # flash messages waiting for this visitor
    "cart_badge": _cart_badge,  # items in the visitor's cart
    "heart": _heart,  # :product_id: ♥ or ♡ on a card
    "like_form": _like_form,  # :product_id:like_count: the ♡ button of a product page
    "bought": _bought,  # :product_id: "you bought this"
    "friends_liked": _friends_liked,  # 朋友♡: what the visitor's friends liked
}


def personalize(request, shared: str) -> str:
    """The visitor's own page: every marker of `shared` filled for `request`, and its CSRF token."""
    found = [(m.group(1), tuple(int(a) for a in m.group(2).split(":")[1:])) for m in MARKER.finditer(shared)]
    visitor = Visitor(request, found)
    filled = {}
    for name, args in found:
        if (name, args) not in filled:
            filled[name, args] = PERSONAL_PARTS[name](visitor, args)

    def fill(match) -> str:
        return filled[match.group(1), tuple(int(a) for a in match.group(2).split(":")[1:])]

    body = MARKER.sub(fill, shared)
    if CSRF_PLACEHOLDER in body:
        body = body.replace(CSRF_PLACEHOLDER, get_token(request))
    return body


def page_response(
    request,
    *,
    key: str | None,
    template: str,
    build_context: Callable[[], dict],
    generational: bool = False,
    status: int = 200,
) -> HttpResponse:
    """A page whose shared part is cached under `key` (None: built every time) and whose personal
    parts are layered on for this visitor.

    `generational` pages (lists, which many catalog changes alter) are stored with the catalog
    generation and read together with it in one round trip; product pages have their key deleted
    when the product changes.
    """
    shared = None
    if key is not None:
        if generational:
            built_at, shared = list_get(key)
        else:
            shared = shared_get(key)
    if shared is None:
        shared = shared_render(request, template, build_context())
        if key is not None:
            if generational:
                list_set(key, built_at, shared)
            else:
                shared_set(key, shared)
    return HttpResponse(personalize(request, shared), status=status)
