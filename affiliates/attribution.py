"""Attribution at order creation: each order line goes to the last valid click, within
ATTRIBUTION_DAYS, on a link that sells its product (a product link, or a showcase link of a creator
whose showcase holds it). Clicks come from the signed cookie of this browser and, for a signed-in
buyer, from the clicks stored under their account on any device.

A click is valid when its link is active, its creator (and for a child link, its 推客 and parent
link) approved and not frozen, the product's plan is live and offers that creator a rate, and the
buyer is not the promoter (unless AFFILIATE_SELF_PURCHASE). A 推客's own link (for a product whose
exclusive plan names them) has no creator: the 推客 takes the whole commission less their agency's
fee. The rate, the payee chain, the split and the scene are snapshotted into the line's
`attribution` inside checkout's transaction, so later changes never rewrite a placed order. One SQL
statement, whatever the number of lines (plain SQL that PostgreSQL and the local demo's SQLite both
run).

On PostgreSQL the cookie's clicks and the products go in as arrays, so the statement's text is the
same for every checkout, and it runs prepared (config.postgres.base.prepared_cursor): its dozen joins
took PostgreSQL about 3 ms to plan against 0.3 ms to run, most of the database's CPU per order."""

import functools
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from affiliates.sql import cast, db_datetime, is_postgres
from config.postgres.base import prepared_cursor

_SELECT = """
WITH cand (link_id, clicked_at, click_id) AS (
    {cookie_clicks}
    UNION ALL
    SELECT k.link_id, k.clicked_at, {click_id_text} FROM affiliates_click k
    WHERE k.user_id = %(buyer)s AND k.clicked_at >= %(since)s AND k.clicked_at <= %(now)s
), prod (product_id) AS (
    {products}
), ranked AS (
SELECT
    prod.product_id, l.id AS link_id, c.click_id, l.scene,
    CASE WHEN cr.role = 'sharer' THEN NULL ELSE cr.id END AS creator_id,
    CASE WHEN cr.role = 'sharer' THEN cr.id ELSE sh.id END AS sharer_id,
    CASE WHEN p.kind = 'exclusive' THEN 'exclusive' WHEN t.id IS NOT NULL THEN 'targeted' ELSE 'public' END
        AS plan,
    COALESCE(t.rate_bp, p.rate_bp) AS rate_bp,
    ag.id AS agency_id, COALESCE(ag.service_fee_bp, 0) AS fee_bp,
    CASE WHEN cr.role = 'sharer' THEN 10000
         WHEN sh.id IS NULL THEN 0
         WHEN sh.bound_creator_id IS NOT NULL THEN COALESCE(so_c.share_bp, bc.default_share_bp)
         ELSE COALESCE(so_a.share_bp, ba.default_share_bp, 5000) END AS share_bp,
    ROW_NUMBER() OVER (PARTITION BY prod.product_id ORDER BY c.clicked_at DESC, c.click_id) AS position
FROM prod
JOIN cand c ON 1 = 1
JOIN affiliates_trackedlink l ON l.id = c.link_id AND l.is_active
JOIN affiliates_promoter cr ON cr.id = l.creator_id AND cr.status = 'approved'
JOIN affiliates_commissionplan p ON p.product_id = prod.product_id AND p.is_active
LEFT JOIN affiliates_trackedlink pl ON pl.id = l.parent_id
LEFT JOIN affiliates_promoter sh ON l.parent_id IS NOT NULL AND sh.id = l.promoter_id
LEFT JOIN affiliates_targetedrate t ON p.kind = 'public' AND t.plan_id = p.id AND t.promoter_id = cr.id
LEFT JOIN affiliates_agency ag
       ON ag.id = COALESCE(cr.agency_id, cr.bound_agency_id, sh.bound_agency_id) AND ag.is_active
LEFT JOIN affiliates_promoter bc ON bc.id = sh.bound_creator_id
LEFT JOIN affiliates_agency ba ON ba.id = sh.bound_agency_id
LEFT JOIN affiliates_shareoverride so_c
       ON so_c.creator_id = sh.bound_creator_id AND so_c.product_id = prod.product_id
LEFT JOIN affiliates_shareoverride so_a
       ON so_a.agency_id = sh.bound_agency_id AND so_a.product_id = prod.product_id
WHERE ((l.target = 'product' AND l.product_id = prod.product_id)
       OR (l.target = 'showcase' AND EXISTS (
            SELECT 1 FROM affiliates_showcaseitem s
            WHERE s.creator_id = l.creator_id AND s.product_id = prod.product_id)))
  AND (l.parent_id IS NULL OR (pl.is_active AND sh.status = 'approved'))
  AND (p.kind = 'public' OR p.exclusive_promoter_id = cr.id)
  AND (cr.role = 'creator' OR (p.kind = 'exclusive' AND l.parent_id IS NULL))
  AND ({self_ok} OR (cr.user_id <> %(buyer)s AND (sh.id IS NULL OR sh.user_id <> %(buyer)s)))
)
SELECT product_id, link_id, click_id, scene, creator_id, sharer_id, plan, rate_bp, agency_id, fee_bp, share_bp
FROM ranked WHERE position = 1
"""


_NAMED = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=4)
def _postgres_sql(*, self_ok: bool) -> tuple[str, tuple[str, ...]]:
    """The statement for PostgreSQL with positional placeholders, and the parameter names in their
    order: the cookie's clicks (`links`, `times`, `ids`) and the products are arrays."""
    named = _SELECT.format(
        cookie_clicks=(
            "SELECT * FROM unnest(CAST(%(links)s AS bigint[]), "
            "CAST(%(times)s AS timestamp with time zone[]), CAST(%(ids)s AS text[]))"
        ),
        click_id_text=cast("k.click_id", "text"),
        products="SELECT unnest(CAST(%(products)s AS bigint[]))",
        self_ok="1 = 1" if self_ok else "1 = 0",
    )
    return _NAMED.sub("%s", named), tuple(_NAMED.findall(named))


@functools.lru_cache(maxsize=256)
def _sql_for(vendor: str, *, clicks: int, products: int, self_ok: bool) -> str:
    """The statement elsewhere (the local demo's SQLite): one row per cookie click and product."""
    bigint, moment = (lambda e: cast(e, "bigint")), (lambda e: cast(e, "timestamp with time zone"))
    if clicks:
        rows = [
            f"SELECT {bigint(f'%(link{i})s')}, {moment(f'%(time{i})s')}, {cast(f'%(id{i})s', 'text')}"
            for i in range(clicks)
        ]
        cookie_clicks = " UNION ALL ".join(rows)
    else:
        cookie_clicks = f"SELECT {bigint('NULL')}, {moment('NULL')}, {cast('NULL', 'text')} WHERE 1 = 0"
    product_rows = " UNION ALL ".join(f"SELECT {bigint(f'%(product{i})s')}" for i in range(products))
    return _SELECT.format(
        cookie_clicks=cookie_clicks,
        click_id_text=cast("k.click_id", "text"),
        products=product_rows,
        self_ok="1 = 1" if self_ok else "1 = 0",
    )


def _cookie_clicks(context) -> tuple[list, list, list]:
    links, times, ids = [], [], []
    for entry in (context or {}).get("affiliate_clicks") or []:
        try:
            link_id, at, click_id = int(entry[0]), float(entry[1]), str(entry[2])
            if len(click_id) != 32:
                continue
            int(click_id, 16)
        except (TypeError, ValueError, IndexError):
            continue
        links.append(link_id)
        times.append(datetime.fromtimestamp(at, tz=UTC))
        ids.append(click_id)
    return links, times, ids


def attribution_for(*, buyer, product_ids, context, now=None) -> dict[int, dict]:
    """{product_id: snapshot} for the products a valid click wins (others are absent)."""
    product_ids = sorted({p for p in product_ids if p})
    if not product_ids:
        return {}
    links, times, ids = _cookie_clicks(context)
    buyer_id = getattr(buyer, "pk", None)
    if not links and buyer_id is None:
        return {}
    now = now or timezone.now()
    params = {
        "since": db_datetime(now - timedelta(days=settings.ATTRIBUTION_DAYS)),
        "now": db_datetime(now + timedelta(minutes=5)),  # clock skew between web processes
        "buyer": buyer_id or 0,
    }
    self_ok = bool(settings.AFFILIATE_SELF_PURCHASE)
    if is_postgres():
        # No cookie clicks (nearly every checkout): NULL arrays, which unnest to no rows just as empty
        # ones do, and cost the driver no array to build.
        params.update(
            {"links": links or None, "times": times or None, "ids": ids or None, "products": product_ids}
        )
        sql, names = _postgres_sql(self_ok=self_ok)
        with prepared_cursor() as cursor:
            cursor.execute(sql, [params[name] for name in names])
            rows = cursor.fetchall()
    else:
        for i, (link_id, at, click_id) in enumerate(zip(links, times, ids, strict=True)):
            params.update({f"link{i}": link_id, f"time{i}": db_datetime(at), f"id{i}": click_id})
        for i, product_id in enumerate(product_ids):
            params[f"product{i}"] = product_id
        sql = _sql_for(connection.vendor, clicks=len(links), products=len(product_ids), self_ok=self_ok)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    result = {}
    for (
        product_id,
        link_id,
        click_id,
        scene,
        creator_id,
        sharer_id,
        plan,
        rate,
        agency_id,
        fee,
        share,
    ) in rows:
        result[product_id] = {
            "v": 1,
            "link": link_id,
            "click": str(click_id),
            "scene": scene,
            "creator": creator_id,
            "sharer": sharer_id,
            "agency": agency_id,
            "plan": plan,
            "rate_bp": rate,
            "agency_fee_bp": fee if agency_id else 0,
            "share_bp": share if sharer_id else 0,
        }
    return result


def checkout_line_hook(*, buyer, orders, lines, context) -> None:
    """shop.hooks checkout line hook: snapshot attribution onto the lines about to be written."""
    found = attribution_for(buyer=buyer, product_ids=[line.product_id for line in lines], context=context)
    if found:
        for line in lines:
            snapshot = found.get(line.product_id)
            if snapshot is not None:
                line.attribution = snapshot
