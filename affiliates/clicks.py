"""The click path: `GET /t/<code>` records the click, sets the signed attribution cookie and
redirects, before Django's request handling starts (ClickDispatch in affiliates/middleware.py; the
ClickMiddleware there is the door for requests that reach Django).

No click is lost, whatever restarts: the click is committed to PostgreSQL before the redirect is
sent, in the same single statement that looks the link up. It goes to `affiliates_clickinbox`, a
plain append-only table with no index, no foreign key and no trigger (the cheapest durable write
PostgreSQL offers), committed asynchronously (`synchronous_commit = off` for that statement only:
the commit does not wait for the disk; a Redis, worker or web restart loses nothing, only a crash of
PostgreSQL itself could lose the last fraction of a second of clicks). Redis is not on the path at
all, so its outage or restart costs nothing here.

The `flush_clicks` beat task moves the inbox into `affiliates_click` in batches: in one transaction
it takes up to a batch of rows (FOR UPDATE SKIP LOCKED, so two workers take different rows),
resolves signed-in visitors' session keys to users, inserts them (idempotent by the click's own
uuid) and deletes exactly those rows. A worker that dies half-way rolls back: the rows are still in
the inbox for the next flush.

Because the lookup runs in the same statement, disabling a link takes effect on the next click in
every process (nothing is cached).

What a click costs, and why (measured in-process on the two shared cores; the bench's ratio is the
bare view's cost over the click's, gunicorn's own share included on both sides):
- ClickDispatch (affiliates/middleware.py, wrapped around the WSGI application in config/wsgi.py)
  answers the click before Django's handler: the request object, request signals, the middleware
  chain and the response object were half of the click's own Python.
- The statement is prepared once per connection (see _record_postgres): unprepared, PostgreSQL's
  planning made its CPU the largest single part of a click.
- The cookie is signed with a key derived once (cookie_dumps), and the redirect path of a link is
  reversed once per process (_target_path; URLs change only with a deploy, so this is no staleness).
"""

import base64
import functools
import hashlib
import hmac
import json
import logging
import time
import uuid
import weakref
import zlib
from datetime import UTC, datetime
from typing import NamedTuple

from django.conf import settings
from django.core import signing
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.utils.http import http_date

logger = logging.getLogger(__name__)

COOKIE_NAME = "wsa"
COOKIE_SALT = "affiliates.attribution"
COOKIE_MAX_CLICKS = 20
FLUSH_BATCH = 5000

# One round trip: look the active link up and, if found, append the click to the inbox, committed
# without waiting for the disk (the setting is local to this statement's own transaction). Prepared
# once per connection under this name (see _record_postgres).
RECORD_STATEMENT = b"affiliates_click_record"
_RECORD_SQL_PG = b"""
WITH quick AS (SELECT set_config('synchronous_commit', 'off', true) AS done),
link AS (
    SELECT l.id, l.target, l.product_id, c.showcase_code
    FROM affiliates_trackedlink l JOIN affiliates_promoter c ON c.id = l.creator_id
    WHERE l.code = $1 AND l.is_active
), stored AS (
    INSERT INTO affiliates_clickinbox (click_id, link_id, visitor, session_key, clicked_at)
    SELECT $2, link.id, $3, $4, $5 FROM link, quick
)
SELECT id, target, product_id, showcase_code FROM link
"""
_RECORD_TYPES = (25, 1043, 1043, 1043, 1184)  # text, varchar x3, timestamptz (PostgreSQL type oids)
# The raw connections that hold the prepared statement (PostgreSQL keeps it for the session, through
# rollbacks; a new connection prepares it again).
_prepared_on: weakref.WeakSet = weakref.WeakSet()


# --- the attribution cookie -----------------------------------------------------------------------
# The cookie is in django.core.signing's format (`signing.loads(value, salt=COOKIE_SALT)` reads it), but
# signed here with the salted HMAC key derived once per SECRET_KEY instead of on every click: Django's
# `signing.dumps` derives the key, builds a signer and tries zlib each time, a third of a click's own
# Python. Reading checks the current key the same way and leaves anything else (an older
# SECRET_KEY_FALLBACKS key, a forgery) to `signing.loads`.
COMPRESS_FROM_CLICKS = 3  # below this many clicks zlib never makes the cookie shorter


@functools.lru_cache(maxsize=4)
def _mac(secret: str) -> hmac.HMAC:
    key = hashlib.sha256(f"{COOKIE_SALT}signer{secret}".encode()).digest()  # django's salted_hmac
    return hmac.new(key, digestmod=hashlib.sha256)


def _signature(value: str) -> str:
    mac = _mac(settings.SECRET_KEY).copy()
    mac.update(value.encode())
    return base64.urlsafe_b64encode(mac.digest()).strip(b"=").decode()


def cookie_dumps(value: dict, *, now: float) -> str:
    """`signing.dumps(value, salt=COOKIE_SALT, compress=True)`, made cheaply (same format)."""
    data = json.dumps(value, separators=(",", ":")).encode("latin-1")
    prefix = ""
    if len(value.get("c", ())) >= COMPRESS_FROM_CLICKS:
        packed = zlib.compress(data)
        if len(packed) < len(data) - 1:
            data, prefix = packed, "."
    signed = f"{prefix}{base64.urlsafe_b64encode(data).strip(b'=').decode()}:{signing.b62_encode(int(now))}"
    return f"{signed}:{_signature(signed)}"


def _cookie_loads(raw: str):
    signed, _, signature = raw.rpartition(":")
    if not signed or not hmac.compare_digest(signature.encode(), _signature(signed).encode()):
        return signing.loads(raw, salt=COOKIE_SALT)  # an older key, or BadSignature
    payload = signed.rpartition(":")[0]
    packed = payload.startswith(".")
    data = base64.urlsafe_b64decode(payload[packed:] + "=" * (-len(payload[packed:]) % 4))
    return json.loads(zlib.decompress(data) if packed else data)


def cookie_value(raw: str | None) -> dict:
    """The verified cookie {"v": visitor id, "c": [[link_id, unix time, click id hex], ...]} from the
    raw cookie text, or a fresh one. A forged or damaged cookie counts as none."""
    if raw:
        try:
            value = _cookie_loads(raw)
        except (signing.BadSignature, ValueError, zlib.error):  # ValueError: bad base64 or JSON
            value = None
        if isinstance(value, dict) and isinstance(value.get("c"), list) and isinstance(value.get("v"), str):
            return value
    return {"v": uuid.uuid4().hex, "c": []}


def cookie_read(request) -> dict:
    """The attribution cookie of a Django request (see cookie_value)."""
    return cookie_value(request.COOKIES.get(COOKIE_NAME))


def attribution_context(request) -> dict:
    """Checkout context provider (shop.hooks): the clicks the cookie vouches for."""
    if COOKIE_NAME not in request.COOKIES:
        return {}
    return {"affiliate_clicks": cookie_read(request)["c"]}


def cookie_header(value: str, *, now: float, secure: bool) -> str:
    """The Set-Cookie header Django's `response.set_cookie` would write for the cookie."""
    max_age = settings.ATTRIBUTION_DAYS * 86400
    header = (
        f"{COOKIE_NAME}={value}; expires={http_date(now + max_age)}; HttpOnly; Max-Age={max_age};"
        " Path=/; SameSite=Lax"
    )
    return header + "; Secure" if secure else header


# --- the hot path ---------------------------------------------------------------------------------
class ClickNotStored(Exception):
    pass


def _record_postgres(params: list) -> tuple | None:
    """Run the record statement on Django's own connection as a prepared statement, through libpq's
    PQprepare / PQexecPrepared (psycopg's `pgconn`). Why not a cursor: Django's connections never
    prepare (psycopg's `prepare_threshold` is None and Django's cursors bind on the client), and
    PostgreSQL planning the statement on every click cost 250 µs of its CPU, against 60 µs
    executing it prepared; psycopg's cursor machinery then cost twice what libpq's call does
    (measured on the two shared cores). The statement is prepared once per connection; a
    connection PostgreSQL dropped, or a prepared statement it forgot (DISCARD ALL by a pooler), is
    dealt with once, by retrying (outside a transaction only)."""
    from psycopg import OperationalError, pq

    wrapper = connections[DEFAULT_DB_ALIAS]
    values = [
        params[0].encode(),
        params[1].encode(),
        params[2].encode(),
        params[3].encode(),
        params[4].isoformat().encode(),
    ]
    for attempt in (1, 2):
        retry = attempt == 1 and not wrapper.in_atomic_block
        try:
            wrapper.ensure_connection()
            raw = wrapper.connection
            pgconn = raw.pgconn
            if raw not in _prepared_on:
                prepared = pgconn.prepare(RECORD_STATEMENT, _RECORD_SQL_PG, _RECORD_TYPES)
                if prepared.status != pq.ExecStatus.COMMAND_OK:
                    raise ClickNotStored(prepared.get_error_message())
                _prepared_on.add(raw)
            result = pgconn.exec_prepared(RECORD_STATEMENT, values)
        except OperationalError:  # the raw connection's errors are psycopg's own
            if not retry:
                raise
            wrapper.close()
            continue
        if result.status == pq.ExecStatus.TUPLES_OK:
            if not result.ntuples:
                return None
            link_id, target, product_id, showcase_code = (result.get_value(0, i) for i in range(4))
            return (
                int(link_id),
                target.decode(),
                int(product_id) if product_id is not None else None,
                showcase_code.decode(),
            )
        if result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000":  # no such prepared statement
            _prepared_on.discard(raw)
        elif pgconn.status == pq.ConnStatus.BAD:
            wrapper.close()
        else:
            retry = False
        if not retry:
            raise ClickNotStored(result.get_error_message())
    return None


def _record_other(code: str, click_id: str, visitor: str, session_key: str, at: datetime):
    """The local demo's SQLite: the same, in two statements."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.id, l.target, l.product_id, c.showcase_code FROM affiliates_trackedlink l"
            " JOIN affiliates_promoter c ON c.id = l.creator_id WHERE l.code = %s AND l.is_active",
            [code],
        )
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(
                "INSERT INTO affiliates_clickinbox (click_id, link_id, visitor, session_key, clicked_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                [click_id, row[0], visitor, session_key, connection.ops.adapt_datetimefield_value(at)],
            )
    return row


def click_record(*, code: str, click_id: str, visitor: str, session_key: str, at: float) -> tuple | None:
    """Look up the active link `code` and store the click, committed, in one statement. Returns
    (link_id, target, product_id, creator's showcase code), or None for an unknown or disabled code."""
    moment = datetime.fromtimestamp(at, tz=UTC)
    visitor, session_key = visitor[:32], (session_key or "")[:40]
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        return _record_postgres([code, click_id, visitor, session_key, moment])
    return _record_other(code, click_id, visitor, session_key, moment)


@functools.lru_cache(maxsize=4096)
def _target_path(target: str, object_key: str) -> str:
    """The redirect's path below the script prefix ("/products/12/"); reverse() costs as much as
    the rest of a click's Python, and URLs only change with a deploy."""
    if target == "product":
        url = reverse("shop:product-detail", args=[object_key])
    else:
        url = reverse("affiliates:showcase", args=[object_key])
    return url[len(get_script_prefix()) - 1 :]


def code_is_plausible(code: str) -> bool:
    return code.isascii() and code.isalnum() and len(code) <= 16


class ClickOutcome(NamedTuple):
    """What a click comes to: `status` "redirect" (with `path` below the script prefix and the signed
    `cookie` value), "gone" (unknown or disabled code) or "unavailable" (could not be stored)."""

    status: str
    path: str = ""
    cookie: str = ""
    at: float = 0.0


GONE = ClickOutcome("gone")
UNAVAILABLE = ClickOutcome("unavailable")


def click_take(*, code: str, cookie: str | None, session_key: str | None) -> ClickOutcome:
    """Record a click on `code` for the visitor with this attribution cookie (raw text) and session
    key. The one place both front doors (ClickDispatch in config.wsgi, ClickMiddleware) go through."""
    if not code_is_plausible(code):
        return GONE
    now = time.time()
    value = cookie_value(cookie)
    click_id = uuid.uuid4().hex
    try:
        link = click_record(code=code, click_id=click_id, visitor=value["v"], session_key=session_key, at=now)
    except Exception:
        logger.exception("click on %s could not be stored", code)
        return UNAVAILABLE
    if link is None:
        return GONE
    link_id, target, product_id, showcase_code = link
    path = _target_path(target, str(product_id) if target == "product" else showcase_code)
    horizon = now - settings.ATTRIBUTION_DAYS * 86400
    clicks = [c for c in value["c"] if isinstance(c, list) and len(c) == 3 and c[1] >= horizon]
    clicks.append([link_id, round(now, 3), click_id])
    value["c"] = clicks[-COOKIE_MAX_CLICKS:]
    return ClickOutcome("redirect", path, cookie_dumps(value, now=now), now)


def click_page(request, status: str):
    """The friendly page for a click that did not redirect: 404 for an unknown or disabled code, 503
    when the click could not be stored (the database is away). Never a 500."""
    if status == "unavailable":
        return render(request, "affiliates/link_gone.html", {"unavailable": True}, status=503)
    return render(request, "affiliates/link_gone.html", status=404)


def click_view(request, code: str):
    """Record the click, set the cookie, redirect (see click_take); a Django view."""
    click = click_take(
        code=code,
        cookie=request.COOKIES.get(COOKIE_NAME),
        session_key=request.COOKIES.get(settings.SESSION_COOKIE_NAME),
    )
    if click.status != "redirect":
        return click_page(request, click.status)
    response = HttpResponseRedirect(get_script_prefix()[:-1] + click.path)
    response.set_cookie(
        COOKIE_NAME,
        click.cookie,
        max_age=settings.ATTRIBUTION_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


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
  AND (c.user_id IS NULL OR EXISTS (SELECT 1 FROM accounts_user u WHERE u.id = c.user_id))
ON CONFLICT (click_id) DO NOTHING
"""


def clicks_insert(records: list[list]) -> int:
    """Insert click records [click_id, link_id, unix time or datetime, visitor, session key]
    (idempotent by click id); returns how many rows were new."""
    if not records:
        return 0
    users = _users_by_session({r[4] for r in records if len(r) > 4})
    columns = ([], [], [], [], [])
    for click_id, link_id, at, visitor, *rest in records:
        columns[0].append(str(uuid.UUID(str(click_id))))
        columns[1].append(int(link_id))
        columns[2].append(str(visitor)[:32])
        columns[3].append(users.get(rest[0]) if rest else None)
        if not isinstance(at, datetime):
            at = datetime.fromtimestamp(float(at), tz=UTC)
        columns[4].append(at)
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


def _flush_batch(batch: int) -> tuple[int, int]:
    """Move up to `batch` inbox rows in one transaction; (rows taken, rows new in the click table)."""
    postgres = connection.vendor == "postgresql"
    row_id = "ctid" if postgres else "rowid"
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {row_id}, click_id, link_id, clicked_at, visitor, session_key"
            f" FROM affiliates_clickinbox LIMIT %s{lock}",
            [batch],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0, 0
        records = []
        for _row, click_id, link_id, at, visitor, session_key in rows:
            if isinstance(at, str):  # SQLite hands back text
                at = datetime.fromisoformat(at)
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            records.append([click_id, link_id, at, visitor, session_key])
        stored = clicks_insert(records)
        ids = [row[0] for row in rows]
        if postgres:
            cursor.execute(
                "DELETE FROM affiliates_clickinbox WHERE ctid = ANY(%s::text[]::tid[])",
                [[str(i) for i in ids]],
            )
        else:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                cursor.execute(
                    f"DELETE FROM affiliates_clickinbox WHERE rowid IN ({', '.join(['%s'] * len(part))})",
                    part,
                )
    return len(rows), stored


def clicks_flush(*, batch: int = FLUSH_BATCH, max_batches: int = 200) -> int:
    """Move clicks from the inbox to `affiliates_click`; returns the number of new rows. Safe in
    several workers at once and after a crash (see the module docstring)."""
    stored = 0
    for _ in range(max_batches):
        taken, new = _flush_batch(batch)
        stored += new
        if taken < batch:
            break
    return stored


def clicks_waiting() -> int:
    """Clicks recorded and not yet moved to the click table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM affiliates_clickinbox")
        return cursor.fetchone()[0]
