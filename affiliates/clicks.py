"""The click path: `GET /t/<code>` records the click, sets the signed attribution cookie and
redirects, before the rest of the middleware runs (see ClickMiddleware).

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
"""

import logging
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

logger = logging.getLogger(__name__)

COOKIE_NAME = "wsa"
COOKIE_SALT = "affiliates.attribution"
COOKIE_MAX_CLICKS = 20
FLUSH_BATCH = 5000

# One round trip: look the active link up and, if found, append the click to the inbox, committed
# without waiting for the disk (the setting is local to this statement's own transaction).
_RECORD_SQL_PG = """
WITH quick AS (SELECT set_config('synchronous_commit', 'off', true) AS done),
link AS (
    SELECT l.id, l.target, l.product_id, c.showcase_code
    FROM affiliates_trackedlink l JOIN affiliates_promoter c ON c.id = l.creator_id
    WHERE l.code = %s AND l.is_active
), stored AS (
    INSERT INTO affiliates_clickinbox (click_id, link_id, visitor, session_key, clicked_at)
    SELECT %s, link.id, %s, %s, %s FROM link, quick
)
SELECT id, target, product_id, showcase_code FROM link
"""


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
def _record_postgres(params: list) -> tuple | None:
    """Run the record statement on Django's own connection, as a server-side prepared statement
    (parsed and planned once per connection). A connection PostgreSQL dropped is reopened once."""
    import psycopg

    for attempt in (1, 2):
        try:
            connection.ensure_connection()
            return connection.connection.execute(_RECORD_SQL_PG, params, prepare=True).fetchone()
        except psycopg.OperationalError:  # the raw connection's errors are psycopg's own
            if attempt == 2:
                raise
            connection.close()
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
    if connection.vendor == "postgresql":
        return _record_postgres([code, click_id, visitor, session_key, moment])
    return _record_other(code, click_id, visitor, session_key, moment)


def click_view(request, code: str):
    """Record the click, set the cookie, redirect. Unknown or disabled codes get a friendly page;
    so does a click that could not be stored (the database is away), never a 500."""
    if not (code.isalnum() and len(code) <= 16):
        return render(request, "affiliates/link_gone.html", status=404)
    now = time.time()
    cookie = cookie_read(request)
    click_id = uuid.uuid4().hex
    try:
        link = click_record(
            code=code,
            click_id=click_id,
            visitor=cookie["v"],
            session_key=request.COOKIES.get(settings.SESSION_COOKIE_NAME, ""),
            at=now,
        )
    except Exception:
        logger.exception("click on %s could not be stored", code)
        return render(request, "affiliates/link_gone.html", {"unavailable": True}, status=503)
    if link is None:
        return render(request, "affiliates/link_gone.html", status=404)
    link_id, target, product_id, showcase_code = link
    if target == "product":
        url = reverse("shop:product-detail", args=[product_id])
    else:
        url = reverse("affiliates:showcase", args=[showcase_code])
    horizon = now - settings.ATTRIBUTION_DAYS * 86400
    clicks = [c for c in cookie["c"] if isinstance(c, list) and len(c) == 3 and c[1] >= horizon]
    clicks.append([link_id, round(now, 3), click_id])
    cookie["c"] = clicks[-COOKIE_MAX_CLICKS:]
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
