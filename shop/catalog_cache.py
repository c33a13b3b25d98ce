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
cut at them once when it is stored (split_page, under layered_key), and `page_response` fills the
markers for the visitor asking, from a handful of small queries and small templates (see
PERSONAL_PARTS). A marker cannot come from what merchants or shoppers type: text is escaped and
descriptions are sanitised, both of which remove `<!--`.

Every cache call goes through Django's cache API, so any backend configured in settings works; a
cache that cannot be reached costs speed (the page is built from the database), never an answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseBase
from django.template.loader import get_template, render_to_string
from django.utils.translation import get_language
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.models import Friendship
from accounts.signals import friendships_changed
from config.cache import redis_client
from config.csrf import csrf_token
from outbox.services import outbox_enqueue, outbox_handler
from shop import signals

cache_logger = logging.getLogger("weshop.cache")

# Bumped by catalog changes that can alter any list. Never expires: an evicted generation comes
# back as 1, and stored lists carry the value they were built at, so a mismatch is a rebuild.
GENERATION_KEY = "catalog:generation"

# The kinds of shared entry kept per product and language.
# "api-json": the API's representation as the JSON bytes it is answered with (json_render). Named
# apart from the "api" entries of earlier versions (pickled data), so a process of either version
# never reads the other's entries while both run during a deploy.
API_KIND = "api-json"
PAGE_KIND = "page"
PRODUCT_KINDS = (PAGE_KIND, API_KIND)

# Layered pages keep their shared part split at its markers (split_page) under their key with this
# suffix (layered_key). Earlier versions kept the HTML string under the bare key: the two never read
# each other's entries while processes of both run during a deploy.
LAYERED_SUFFIX = "split"


def layered_key(key: str) -> str:
    """The key a layered page's shared part is stored under, given the page's key."""
    return f"{key}:{LAYERED_SUFFIX}"


def product_key(kind: str, product_id: int, language: str) -> str:
    """Key of one shared entry of a product: `kind` is PAGE_KIND (its page body) or API_KIND."""
    return f"catalog:product:{kind}:{product_id}:{language}"


def product_keys(product_id: int) -> list[str]:
    """Every shared entry of a product, in every language: its page as stored now (layered_key) and
    as earlier versions stored it (dropped as well, for processes of both versions during a deploy),
    and its API representation."""
    keys = [
        product_key(kind, product_id, code) for kind in PRODUCT_KINDS for code, _name in settings.LANGUAGES
    ]
    return keys + [
        layered_key(product_key(PAGE_KIND, product_id, code)) for code, _name in settings.LANGUAGES
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
    current, entry, _found = list_get_with(key)
    return current, entry


def list_get_with(key: str, *, also: Iterable[str] = ()) -> tuple[int, object | None, dict]:
    """list_get, reading the keys of `also` in the same round trip: what was found there comes third."""
    found = cache.get_many([GENERATION_KEY, key, *also])
    current = found.get(GENERATION_KEY) or generation()
    entry = found.get(key)
    if entry is not None and entry[0] == current:
        return current, entry[1], found
    return current, None, found


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

    Dropped right after the commit, so the merchant and shoppers see the edit at once, and recorded in
    the outbox in the same transaction, so a worker drops them again (`catalog_cache_drop`, retried
    until Redis answers): a Redis outage at commit time neither fails the change nor keeps stale
    parts beyond it (the in-process drop is skipped and logged on "weshop.cache").
    """
    ids = sorted(set(product_ids))
    outbox_enqueue(handler=catalog_cache_drop, payload={"product_ids": ids, "lists": lists})
    transaction.on_commit(lambda: _catalog_cache_drop_now(ids, lists))


def _catalog_cache_drop_now(product_ids: list[int], lists: bool) -> None:
    try:
        catalog_cache_drop(product_ids=product_ids, lists=lists)
    except Exception as exc:  # the outbox message retries it; the request has committed
        cache_logger.warning("catalog cache drop failed, left to the outbox: %r", exc)


@outbox_handler
def catalog_cache_drop(*, product_ids: Iterable[int] = (), lists: bool = True) -> None:
    """Delete these products' shared entries and, with `lists`, bump the generation (outbox handler;
    the order receiver calls it directly). Raises when Redis cannot be reached, so it is retried:
    Django's cache API, which turns an unreachable Redis into a quiet miss, is right for reads but not
    for a drop, so this one uses the raw client."""
    keys = [key for product_id in sorted(set(product_ids)) for key in product_keys(product_id)]
    client = redis_client()
    if client is not None:
        pipeline = client.pipeline(transaction=False)  # one round trip
        if keys:
            pipeline.delete(*(cache.make_key(key) for key in keys))
        if lists:
            pipeline.incr(cache.make_key(GENERATION_KEY))  # INCR of a missing key makes it 1
        if keys or lists:
            pipeline.execute()
        return
    if keys:
        cache.delete_many(keys)
    if lists:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # not set yet (or evicted): any new value retires the old list keys
            cache.set(GENERATION_KEY, 1, timeout=None)


# --- Orders move stock and sales: the parts showing them follow ------------------------------
# (and friendships move 朋友♡)


@receiver(friendships_changed, dispatch_uid="catalog-cache-friendships-changed")
def friends_liked_follows_friendships(sender, user_ids, **kwargs):
    friends_liked_invalidate(user_ids=user_ids)


@receiver(post_save, sender=Friendship, dispatch_uid="catalog-cache-friendship-saved")
@receiver(post_delete, sender=Friendship, dispatch_uid="catalog-cache-friendship-deleted")
def friends_liked_follows_friendship_rows(sender, instance, **kwargs):
    # Rows written one by one (the admin, fixtures); the services announce friendships_changed.
    friends_liked_invalidate(user_ids=[instance.user_id, instance.friend_id])


@receiver(signals.order_placed, dispatch_uid="catalog-cache-order-placed")
@receiver(signals.order_paid, dispatch_uid="catalog-cache-order-paid")
@receiver(signals.order_cancelled, dispatch_uid="catalog-cache-order-cancelled")
@receiver(signals.order_refunded, dispatch_uid="catalog-cache-order-refunded")
def catalog_cache_follows_orders(sender, order, **kwargs):
    """Orders take and return stock and add sales: drop the shared parts of the products involved,
    and only those (list pages stay: they show neither stock nor anything an order changes at once).

    Runs in a worker (shop.services.announce), so it drops them at once; a Redis error raises and the
    announcement is retried. Code that changes stock outside an order event calls
    catalog_cache_invalidate itself.
    """
    if "lines" in getattr(order, "_prefetched_objects_cache", {}):  # checkout hands over its lines
        product_ids = [line.product_id for line in order.lines.all() if line.product_id]
    else:
        product_ids = [pid for pid in order.lines.values_list("product_id", flat=True) if pid]
    catalog_cache_drop(product_ids=product_ids, lists=False)


# --- The API: shared representations stored as the JSON they are answered with --------------------


def json_render(data) -> bytes:
    """`data` as the API's JSON renderer writes it (the bytes a plain JSON answer carries)."""
    return JSONRenderer().render(data)


def json_response(request, body: bytes, *, add: dict | None = None) -> HttpResponseBase:
    """The answer to an API request from a shared representation `body` (a JSON object or array as
    json_render wrote it), with the caller's own fields `add` put into the object.

    A caller asking for plain JSON (nearly all) gets the stored bytes as they are: unpickling the
    data and encoding it again was most of a cached answer's CPU. Only `add` is encoded per request,
    and written in before the object's closing brace. Any other format (the browsable API, JSON with
    an indent) goes through DRF's renderers as usual.
    """
    if not isinstance(body, bytes):
        raise TypeError("json_response answers from json_render's bytes")
    renderer = getattr(request, "accepted_renderer", None)
    if type(renderer) is JSONRenderer and getattr(request, "accepted_media_type", None) == "application/json":
        if add:
            extra = json_render(add)
            if not (body.endswith(b"}") and extra.startswith(b"{")):
                raise ValueError("fields are added to JSON objects only")
            body = body[:-1] + (b"," if body != b"{}" else b"") + extra[1:]
        return HttpResponse(body, content_type="application/json")
    data = json.loads(body)
    return Response({**data, **add} if add else data)


# --- Per-visitor layering ----------------------------------------------------------------------

CSRF_PLACEHOLDER = "__weshop_csrf_placeholder__"
MARKER = re.compile(r"<!--personal:([a-z_]+)((?::\d+)*)-->")
# What split_page cuts a page at: markers and the CSRF placeholder (the second alternative).
_SLOT = re.compile(MARKER.pattern + "|" + re.escape(CSRF_PLACEHOLDER))
# The name split_page gives the CSRF placeholder's slot: no marker can be called so ([a-z_]+).
CSRF_SLOT = "#csrf"


def shared_render(request, template: str, context: dict) -> str:
    """Render the part of a page every visitor shares: personal parts come out as markers.

    The templates of such pages extend shop/storefront/layered.html and put markers, never `user`,
    where a visitor's own data goes; the CSRF token is a placeholder.
    """
    return render_to_string(template, {**context, "csrf_token": CSRF_PLACEHOLDER}, request)


def split_page(html: str) -> tuple[str, tuple, tuple[int, ...], dict[str, frozenset[int]]]:
    """A shared page cut at its markers once, when it is cached, so a request only joins it.

    Finding the markers again on every request (a regular expression over the whole page, twice,
    then parsing each marker's numbers) was the largest piece of a cached list page's own CPU.
    Returns plain tuples, strings, ints and a dict (cheap to pickle, and to unpickle under any later
    version of this module):

    - `text`: the page with `%s` where each marker or CSRF placeholder was and every other `%`
      doubled, so `text % values` puts them back in one step;
    - `markers`: each distinct marker once, as (name, numbers), in the order of first appearance; the
      CSRF placeholder is (CSRF_SLOT, ());
    - `slots`: for each `%s` of `text`, the index of its marker in `markers`;
    - `ids`: marker name -> the first numbers of its markers (the products whose ♡ or purchase the
      page shows), which Visitor reads all at once.
    """
    pieces: list[str] = []
    markers: list[tuple[str, tuple[int, ...]]] = []
    index: dict[tuple[str, tuple[int, ...]], int] = {}
    slots: list[int] = []
    ids: dict[str, set[int]] = {}
    position = 0
    for match in _SLOT.finditer(html):
        pieces.append(html[position : match.start()].replace("%", "%%"))
        position = match.end()
        name = match.group(1)
        marker = (
            (CSRF_SLOT, ()) if name is None else (name, tuple(int(a) for a in match.group(2).split(":")[1:]))
        )
        if marker not in index:
            index[marker] = len(markers)
            markers.append(marker)
            if marker[1]:
                ids.setdefault(name, set()).add(marker[1][0])
        slots.append(index[marker])
    pieces.append(html[position:].replace("%", "%%"))
    return "%s".join(pieces), tuple(markers), tuple(slots), {name: frozenset(v) for name, v in ids.items()}


# The session backend whose get_user takes a preloaded user (accounts.authentication.user_preloaded).
SESSION_BACKEND = "accounts.backends.AccountBackend"


@functools.cache
def _on_postgresql() -> bool:
    # Read once per process: `connection.vendor` looks the connection up for the thread each time.
    return connection.vendor == "postgresql"


_EMPTY: frozenset[int] = frozenset()


class Visitor:
    """What is personal about one request, each fact read at most once, for all markers together.

    A page asks it for twenty or more parts (a ♥ per card), so what every part needs is kept at hand:
    the figures once read, the language and DEBUG read once, the few distinct fragments rendered once
    per request (`fragment`)."""

    def __init__(
        self,
        request,
        markers: Iterable[tuple[str, tuple[int, ...]]] = (),
        generation: int | None = None,
        *,
        ids_by_name: dict[str, Collection[int]] | None = None,
    ):
        self.request = request
        self.user = request.user
        self.generation = generation  # the catalog generation, when the page already read it
        if ids_by_name is None:
            ids_by_name = {}
            for name, args in markers:
                if args:
                    ids_by_name.setdefault(name, set()).add(args[0])
        self.ids_by_name = ids_by_name
        self._facts: dict[str, object] = {}
        self.prefetched: dict[str, object] = {}  # personal cache keys read with the shared part
        self.language = get_language()
        self._debug = settings.DEBUG
        self._fragments: dict[tuple, str] = {}
        self._hearts: dict[bool, str] = {}

    def _liked_among(self) -> set[int]:
        ids = self.ids_by_name
        return set(ids.get("heart", _EMPTY)) | set(ids.get("like_form", _EMPTY))

    def load_signed_in(self) -> None:
        """For a shopper signed in through the session whose user is not loaded yet: read the user
        and every figure the markers need in one statement (shop.selectors.visitor.user_and_facts)
        instead of two, then let django.contrib.auth vouch for that user as it always does.

        The figures are kept only when the request's user turns out to be the one read; anyone
        else (a stale session, another backend, the SQLite demo) goes the usual way."""
        from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY

        from accounts.authentication import user_preloaded
        from shop.selectors.visitor import user_and_facts

        request = self.request
        session = getattr(request, "session", None)
        if session is None or hasattr(request, "_cached_user") or not _on_postgresql():
            return
        if session.get(BACKEND_SESSION_KEY) != SESSION_BACKEND:
            return
        try:
            user_id = int(session.get(SESSION_KEY))
        except (TypeError, ValueError):
            return
        user, facts = user_and_facts(
            user_id=user_id,
            liked_among=self._liked_among(),
            bought_among=self.ids_by_name.get("bought", _EMPTY),
        )
        if user is None:
            return
        with user_preloaded(user):
            signed_in = request.user.is_authenticated  # auth checks the session against this row
        if signed_in and request.user.pk == user.pk:
            self._facts["facts"] = facts
            session_user_remember(session.session_key, user.pk)
            if getattr(request, "_cached_user", None) is user:  # what request.user stands for
                self.user = user  # read directly by every part, not through the lazy object

    def facts(self):
        """Every personal figure the page's markers need, in one query (shop.selectors.visitor)."""
        facts = self._facts.get("facts")
        if facts is None:
            facts = self._facts["facts"] = self._read_facts()
        return facts

    def _read_facts(self):
        from shop.selectors.visitor import visitor_facts
        from shop.views.cart import SESSION_CART_ID

        cart_id = None
        if not self.user.is_authenticated and settings.SESSION_COOKIE_NAME in self.request.COOKIES:
            cart_id = self.request.session.get(SESSION_CART_ID)
        return visitor_facts(
            user=self.user,
            liked_among=self._liked_among(),
            bought_among=self.ids_by_name.get("bought", _EMPTY),
            cart_id=cart_id,
        )

    def fragment(self, template: str, context: dict) -> str:
        """`_fragment` for this request: each distinct part rendered (or found in the process's
        LRU) once per request, however many markers show it."""
        key = (template, *sorted(context.items()))
        html = self._fragments.get(key)
        if html is None:
            if self._debug:
                html = get_template(template).render(context)
            else:
                html = _fragment_rendered(template, self.language, key[1:])
            # A plain str: the page is joined with `%`, which calls SafeString's own __str__ (a
            # Python method) for every slot it fills, twenty ♥ on a list page.
            html = self._fragments[key] = str.__str__(html)
        return html

    def heart(self, product_id: int) -> str:
        """The ♥ or ♡ of a card: asked for once per card, so kept per state without building a
        context each time."""
        liked = product_id in self.facts().liked
        html = self._hearts.get(liked)
        if html is None:
            html = self._hearts[liked] = self.fragment("shop/personal/heart.html", {"liked": liked})
        return html


@functools.lru_cache(maxsize=4096)
def _fragment_rendered(template: str, language: str, items: tuple) -> str:
    return get_template(template).render(dict(items))


def _fragment(template: str, context: dict) -> str:
    """A personal part rendered from `context`, which holds exactly what it shows, as plain values
    (numbers, strings, booleans; no context processors, no request or user objects).

    Its output is then a function of the template, the language and those values alone, so each
    distinct set is rendered once per process and reused (a bounded LRU): the same ♡ button, cart
    badge or sign-in link recurs on page after page, and rendering it through the template engine
    every time was a fifth of a cached page's CPU. With DEBUG (templates edited while the server
    runs) every call renders."""
    items = tuple(sorted(context.items()))
    if settings.DEBUG:
        return get_template(template).render(context)
    return _fragment_rendered(template, get_language(), items)


fragment = _fragment  # for pages outside the catalog that render personal parts of their own


def _nav(visitor: Visitor, args) -> str:
    user = visitor.user
    signed_in = user.is_authenticated
    return visitor.fragment(
        "partials/topbar_nav.html",
        {
            "signed_in": signed_in,
            "display_name": user.display_name if signed_in else "",
            "inbox_unread_count": visitor.facts().unread if signed_in else 0,
            "next_path": "" if signed_in else visitor.request.get_full_path(),
        },
    )


def _messages(visitor: Visitor, args) -> str:
    cookies = visitor.request.COOKIES
    if "messages" not in cookies and settings.SESSION_COOKIE_NAME not in cookies:
        return ""  # no cookie, no session: nothing can be waiting
    waiting = list(get_messages(visitor.request))
    if not waiting:
        return ""
    # Messages are shown once: rendered every time, never kept.
    return get_template("partials/messages.html").render({"messages": waiting})


def _cart_badge(visitor: Visitor, args) -> str:
    return visitor.fragment("shop/personal/cart_badge.html", {"cart_count": visitor.facts().cart_count})


def _heart(visitor: Visitor, args) -> str:
    return visitor.heart(args[0])


def _like_form(visitor: Visitor, args) -> str:
    product_id, like_count = args
    return visitor.fragment(
        "shop/personal/like_form.html",
        {
            "product_id": product_id,
            "like_count": like_count,
            "liked": product_id in visitor.facts().liked,
            "next": visitor.request.path,
            "csrf_token": CSRF_PLACEHOLDER,
        },
    )


def _bought(visitor: Visitor, args) -> str:
    if args[0] not in visitor.facts().bought:
        return ""
    return visitor.fragment("shop/personal/bought.html", {})


def friends_liked_key(user_id: int, language: str) -> str:
    return f"catalog:personal:friends-liked:{user_id}:{language}"


# Session key -> the user it was last seen signed in as, in this process (bounded). Only a hint, to
# read a shopper's own cached parts (朋友♡) in the page's one round trip before the session says who
# they are: the parts are looked up under the verified user's key, so a wrong hint costs a round
# trip, never another shopper's data.
_SESSION_USERS: dict[str, int] = {}
SESSION_USERS_MAX = 20_000


def session_user_remember(session_key: str | None, user_id: int) -> None:
    if not session_key:
        return
    if len(_SESSION_USERS) >= SESSION_USERS_MAX:
        _SESSION_USERS.clear()  # cheaper than an LRU; the hints refill on the next page views
    _SESSION_USERS[session_key] = user_id


def personal_prefetch_keys(request, names: Iterable[str]) -> list[str]:
    """The cache keys of the visitor's own cached parts among `names` (only "friends_liked" is
    cached per shopper), for the session's hinted user; [] when no hint."""
    if "friends_liked" not in names:
        return []
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    user_id = _SESSION_USERS.get(session_key) if session_key else None
    if user_id is None:
        return []
    return [friends_liked_key(user_id, get_language())]


def friends_liked_invalidate(*, user_ids: Iterable[int]) -> None:
    """Drop these users' 朋友♡ sections on commit (a friend ♡ed something, or their friends changed)."""
    keys = [friends_liked_key(uid, code) for uid in set(user_ids) for code, _name in settings.LANGUAGES]
    if keys:
        transaction.on_commit(lambda: cache.delete_many(keys))


def _friends_liked(visitor: Visitor, args) -> str:
    """朋友♡ is the visitor's own, but costly to work out (friends, their ♡s, ranking, pictures), so
    it is cached per visitor too: stored with the catalog generation (a catalog change retires it,
    as it does list pages) and dropped when a friend ♡s or un-♡s a product or friends change."""
    from shop.selectors.catalog import friends_liked_products, product_cover

    user = visitor.user
    if not user.is_authenticated:
        return _fragment("shop/personal/friends_liked.html", {"signed_in": False, "friends_liked": ()})
    key = friends_liked_key(user.pk, visitor.language)
    if key in visitor.prefetched and visitor.generation is not None:
        found, current = visitor.prefetched, visitor.generation
    elif visitor.generation is None:
        found = cache.get_many([GENERATION_KEY, key])
        current = found.get(GENERATION_KEY) or generation()
    else:
        found, current = {key: cache.get(key)}, visitor.generation
    entry = found.get(key)
    if entry is not None and entry[0] == current:
        return entry[1]
    products = friends_liked_products(user=user, limit=8)
    for product in products:
        product.cover = product_cover(product)
    html = get_template("shop/personal/friends_liked.html").render(
        {"signed_in": True, "friends_liked": products}
    )
    cache.set(key, (current, html), settings.CATALOG_CACHE_SECONDS)
    return html


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


def personalize(
    request,
    shared: str | tuple,
    *,
    generation: int | None = None,
    parts: dict[str, str] | None = None,
    prefetched: dict[str, object] | None = None,
) -> str:
    """The visitor's own page: every marker of `shared` filled for `request`, and its CSRF token.

    `shared` is a page as split_page cut it (what the cache holds) or, for a page built for this
    request alone, the HTML itself. `parts` fills markers the page's own view has already rendered
    for this visitor (name -> HTML, for markers without arguments), before PERSONAL_PARTS is asked.
    `prefetched` holds cache entries of per-shopper parts already read (key -> entry or None).

    Each distinct marker is filled once; every CSRF placeholder, in the page or in a part, gets the
    same freshly masked token."""
    if isinstance(shared, str):
        shared = split_page(shared)
    text, markers, slots, ids = shared
    visitor = Visitor(request, generation=generation, ids_by_name=ids)
    if prefetched:
        visitor.prefetched = prefetched
    visitor.load_signed_in()
    token = None
    filled = []
    for name, args in markers:
        if name == CSRF_SLOT:
            part = token = token or csrf_token(request)  # get_token's, cheaper
        else:
            if parts and not args and name in parts:
                part = parts[name]
            else:
                part = PERSONAL_PARTS[name](visitor, args)
            if CSRF_PLACEHOLDER in part:  # a form among the personal parts (the ♡ button)
                token = token or csrf_token(request)
                part = part.replace(CSRF_PLACEHOLDER, token)
        filled.append(part)
    return text % tuple(map(filled.__getitem__, slots))


def _unread_session_cache_key(request) -> str | None:
    """The cache key of the visitor's session, when the session engine keeps sessions in this cache
    (cached_db) and this request has not read it yet; else None.

    page_response reads it together with the page's shared part, so a signed-in page costs one
    Redis round trip instead of two. Found, it is exactly what the session engine's own load() reads
    (the decoded session, stored with the session's expiry); not found (evicted, Redis away), the
    engine loads the session as usual, from PostgreSQL.
    """
    session = getattr(request, "session", None)
    if (
        session is None
        or not getattr(session, "session_key", None)
        or hasattr(session, "_session_cache")  # already read
        or getattr(session, "_cache", None) is not caches[DEFAULT_CACHE_ALIAS]
        or not isinstance(getattr(type(session), "cache_key", None), property)
    ):
        return None
    return session.cache_key


def session_get_many(request, keys: Iterable[str]) -> dict:
    """cache.get_many(keys), reading the visitor's session (when it is kept in this cache and not
    read yet) in the same round trip and handing it to the session engine: what a page that needs
    the signed-in user before it knows its own key reads first (affiliates' promoter centre)."""
    keys = list(keys)
    session_key = _unread_session_cache_key(request)
    found = cache.get_many([*keys, session_key] if session_key else keys)
    if session_key and isinstance(found.get(session_key), dict):
        # What SessionStore.load() would have read from this cache a moment later.
        request.session._session_cache = found[session_key]
    return found


def page_response(
    request,
    *,
    key: str | None,
    template: str,
    build_context: Callable[[], dict],
    generational: bool = False,
    status: int = 200,
    parts: dict[str, str] | None = None,
    personal: Iterable[str] = (),
) -> HttpResponse:
    """A page whose shared part is cached under `key` (None: built every time) and whose personal
    parts are layered on for this visitor (`parts`: markers the view rendered itself, see personalize).
    The shared part is stored as split_page cuts it, under layered_key(key).
    `personal` names the parts cached per shopper that the page shows (朋友♡: "friends_liked"): they
    are read in the same round trip as the shared part when this process knows the session's user.

    `generational` pages (lists, which many catalog changes alter) are stored with the catalog
    generation and read together with it in one round trip; product pages have their key deleted
    when the product changes.
    """
    shared = built_at = None
    session_key = _unread_session_cache_key(request)
    also = [session_key] if session_key else []
    prefetch = personal_prefetch_keys(request, personal) if key is not None else []
    also += prefetch
    found: dict = {}
    stored_key = layered_key(key) if key is not None else None
    if stored_key is not None:
        if generational:
            built_at, shared, found = list_get_with(stored_key, also=also)
        else:
            found = cache.get_many([stored_key, *also])
            shared = found.get(stored_key)
    if session_key and isinstance(found.get(session_key), dict):
        # What SessionStore.load() would have read from this cache a moment later.
        request.session._session_cache = found[session_key]
    if not isinstance(shared, tuple):  # not cached (or not as split_page cuts it): built now
        shared = split_page(shared_render(request, template, build_context()))
        if stored_key is not None:
            if generational:
                list_set(stored_key, built_at, shared)
            else:
                shared_set(stored_key, shared)
    body = personalize(
        request,
        shared,
        generation=built_at,
        parts=parts,
        prefetched={name: found.get(name) for name in prefetch},
    )
    return HttpResponse(body, status=status)
