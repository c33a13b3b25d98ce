"""The click path: `GET /t/<code>` records a click, sets the signed attribution cookie and
redirects, before the rest of the middleware runs (see ClickMiddleware).

Clicks are buffered in a Redis list and moved to PostgreSQL by the `flush_clicks` beat task. No
click is lost on the way:
- each click carries an id made here (uuid4), and the table has a unique constraint on it, so
  inserting a batch twice stores it once;
- a flush first RENAMEs the buffer to a processing key of its own (atomic), inserts everything in
  it, and only then deletes it; a flush that dies half-way leaves its processing key behind, and a
  later flush adopts it (re-inserting is harmless);
- when Redis cannot be reached the click is inserted straight into PostgreSQL.
A Redis restart keeps the buffer only when Redis persists it (appendonly); see README.
"""

import json
import logging
import time
import uuid
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.core import signing
from django.db import connection
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

logger = logging.getLogger(__name__)

COOKIE_NAME = "wsa"
COOKIE_SALT = "affiliates.attribution"
COOKIE_MAX_CLICKS = 20
LINK_CACHE_SECONDS = 30
ADOPT_AFTER_SECONDS = 60

_client = None
_link_cache: dict[str, tuple[float, tuple | None]] = {}


def redis_client() -> redis.Redis | None:
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _client


def _key_prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "weshop"


def buffer_key() -> str:
    return f"{_key_prefix()}:aff:clicks"


def _processing_prefix() -> str:
    return f"{_key_prefix()}:aff:clicks:processing:"


# --- link lookup (a short in-process cache; attribution re-checks everything at checkout) ---------
def _link_lookup(code: str) -> tuple | None:
    """(link_id, redirect url) of an active link, or None. Cached in this process for
    LINK_CACHE_SECONDS, so disabling a link takes at most that long to show on other processes."""
    now = time.monotonic()
    hit = _link_cache.get(code)
    if hit is not None and hit[0] > now:
        return hit[1]
    from affiliates.models import TrackedLink

    row = (
        TrackedLink.objects.filter(code=code, is_active=True)
        .values_list("pk", "target", "product_id", "creator__showcase_code")
        .first()
    )
    value = None
    if row is not None:
        link_id, target, product_id, showcase_code = row
        if target == TrackedLink.Target.PRODUCT:
            url = reverse("shop:product-detail", args=[product_id])
        else:
            url = reverse("affiliates:showcase", args=[showcase_code])
        value = (link_id, url)
    if len(_link_cache) > 10000:
        _link_cache.clear()
    _link_cache[code] = (now + LINK_CACHE_SECONDS, value)
    return value


def link_cache_forget(code: str) -> None:
    _link_cache.pop(code, None)


# --- the attribution cookie -----------------------------------------------------------------------
def cookie_read(request) -> dict:
    """The verified cookie {"v": visitor id, "c": [[link_id, unix time, click id hex], ...]} or a
    fresh one. A forged or damaged cookie counts as none."""
    raw = request.COOKIES.get(COOKIE_NAME)
    if raw:
        try:
            value = signing.loads(raw, salt=COOKIE_SALT)
            if (
                isinstance(value, dict)
                and isinstance(value.get("c"), list)
                and isinstance(value.get("v"), str)
            ):
                return value
        except signing.BadSignature:
            pass
    return {"v": uuid.uuid4().hex, "c": []}


def attribution_context(request) -> dict:
    """Checkout context provider (shop.hooks): the clicks the cookie vouches for."""
    if COOKIE_NAME not in request.COOKIES:
        return {}
    return {"affiliate_clicks": cookie_read(request)["c"]}


# --- the hot path ---------------------------------------------------------------------------------
def click_view(request, code: str):
    """Record the click, set the cookie, redirect. Unknown or disabled codes get a friendly page."""
    link = _link_lookup(code) if code.isalnum() and len(code) <= 16 else None
    if link is None:
        return render(request, "affiliates/link_gone.html", status=404)
    link_id, url = link
    now = time.time()
    cookie = cookie_read(request)
    click_id = uuid.uuid4().hex
    horizon = now - settings.ATTRIBUTION_DAYS * 86400
    clicks = [c for c in cookie["c"] if isinstance(c, list) and len(c) == 3 and c[1] >= horizon]
    clicks.append([link_id, round(now, 3), click_id])
    cookie["c"] = clicks[-COOKIE_MAX_CLICKS:]
    record = [click_id, link_id, now, cookie["v"], request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")]
    click_record(record)
    response = HttpResponseRedirect(url)
    response.set_cookie(
        COOKIE_NAME,
        signing.dumps(cookie, salt=COOKIE_SALT, compress=True),
        max_age=settings.ATTRIBUTION_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def click_record(record: list) -> None:
    """Buffer one click in Redis; when Redis does not answer, write it to PostgreSQL at once."""
    client = redis_client()
    if client is not None:
        try:
            client.rpush(buffer_key(), json.dumps(record))
            return
        except redis.RedisError:
            logger.warning("click buffer unavailable, writing the click to the database", exc_info=True)
    try:
        clicks_insert([record])
    except Exception:  # the cookie still carries the attribution; never fail the redirect
        logger.exception("click %s could not be stored", record[0])


# --- flushing -------------------------------------------------------------------------------------
def _users_by_session(session_keys: set[str]) -> dict[str, int]:
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    users = {}
    for key in session_keys:
        if not key:
            continue
        try:
            user_id = SessionStore(session_key=key).get(SESSION_KEY)
        except Exception:
            user_id = None
        if user_id:
            users[key] = int(user_id)
    return users


_INSERT_SQL = """
INSERT INTO affiliates_click (click_id, link_id, visitor, user_id, clicked_at, recorded_at)
SELECT c.click_id, c.link_id, c.visitor, c.user_id, c.clicked_at, now()
FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bigint[], %s::timestamptz[])
     AS c(click_id, link_id, visitor, user_id, clicked_at)
WHERE EXISTS (SELECT 1 FROM affiliates_trackedlink l WHERE l.id = c.link_id)
ON CONFLICT (click_id) DO NOTHING
"""


def clicks_insert(records: list[list]) -> int:
    """Insert click records [click_id, link_id, unix time, visitor, session key] (idempotent by
    click id); returns how many rows were new."""
    if not records:
        return 0
    users = _users_by_session({r[4] for r in records if len(r) > 4})
    columns = ([], [], [], [], [])
    for click_id, link_id, at, visitor, *rest in records:
        columns[0].append(str(uuid.UUID(click_id)))
        columns[1].append(int(link_id))
        columns[2].append(str(visitor)[:32])
        columns[3].append(users.get(rest[0]) if rest else None)
        columns[4].append(datetime.fromtimestamp(float(at), tz=UTC))
    if connection.vendor != "postgresql":  # the local demo's SQLite
        from affiliates.models import Click, TrackedLink

        known = set(TrackedLink.objects.filter(pk__in=set(columns[1])).values_list("pk", flat=True))
        before = Click.objects.count()
        Click.objects.bulk_create(
            [
                Click(click_id=c, link_id=link, visitor=v, user_id=u, clicked_at=at)
                for c, link, v, u, at in zip(*columns, strict=True)
                if link in known
            ],
            ignore_conflicts=True,
        )
        return Click.objects.count() - before
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, list(columns))
        return cursor.rowcount


def clicks_flush(*, chunk: int = 5000) -> int:
    """Move buffered clicks to PostgreSQL; returns the number of new rows. Safe to run in several
    workers at once and after a crash (see the module docstring)."""
    client = redis_client()
    if client is None:
        return 0
    prefix = _processing_prefix()
    keys = []
    for key in client.scan_iter(match=prefix + "*", count=100):
        key = key.decode()
        started = float(key.rsplit(":", 2)[-2]) if key.count(":") >= 2 else 0
        if time.time() - started > ADOPT_AFTER_SECONDS:  # left by a flush that died
            keys.append(key)
    mine = f"{prefix}{time.time():.3f}:{uuid.uuid4().hex}"
    try:
        client.rename(buffer_key(), mine)
        keys.append(mine)
    except redis.ResponseError:  # nothing buffered
        pass
    stored = 0
    for key in keys:
        items = client.lrange(key, 0, -1)
        for start in range(0, len(items), chunk):
            batch = []
            for raw in items[start : start + chunk]:
                try:
                    batch.append(json.loads(raw))
                except ValueError:
                    logger.error("dropping a damaged click record %r", raw[:200])
            stored += clicks_insert(batch)
        client.delete(key)
    return stored
