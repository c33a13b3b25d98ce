"""Attribution at order creation: each order line goes to the last valid click, within
ATTRIBUTION_DAYS, on a link that sells its product (a product link, or a showcase link of a creator
whose showcase holds it). Clicks come from the signed cookie of this browser and, for a signed-in
buyer, from the clicks stored under their account on any device.

A click is valid when its link is active, its creator (and for a child link, its 推客 and parent
link) approved and not frozen, the product's plan is live and offers that creator a rate, and the
buyer is not the promoter (unless AFFILIATE_SELF_PURCHASE). The rate, the payee chain, the split
and the scene are snapshotted into the line's `attribution` inside checkout's transaction, so later
changes never rewrite a placed order. One SQL statement, whatever the number of lines."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

_SQL = """
WITH cand AS (
    SELECT c.link_id, c.clicked_at, c.click_id
    FROM unnest(%(links)s::bigint[], %(times)s::timestamptz[], %(ids)s::uuid[])
         AS c(link_id, clicked_at, click_id)
    WHERE c.clicked_at >= %(since)s AND c.clicked_at <= %(now)s
    UNION ALL
    SELECT k.link_id, k.clicked_at, k.click_id FROM affiliates_click k
    WHERE %(buyer)s::bigint IS NOT NULL AND k.user_id = %(buyer)s AND k.clicked_at >= %(since)s
          AND k.clicked_at <= %(now)s
), prod AS (SELECT DISTINCT unnest(%(products)s::bigint[]) AS product_id)
SELECT DISTINCT ON (prod.product_id)
    prod.product_id, l.id, c.click_id, l.scene, cr.id, sh.id,
    CASE WHEN p.kind = 'exclusive' THEN 'exclusive' WHEN t.id IS NOT NULL THEN 'targeted' ELSE 'public' END,
    COALESCE(t.rate_bp, p.rate_bp),
    ag.id, COALESCE(ag.service_fee_bp, 0),
    CASE WHEN sh.id IS NULL THEN 0
         WHEN sh.bound_creator_id IS NOT NULL THEN COALESCE(so_c.share_bp, bc.default_share_bp)
         ELSE COALESCE(so_a.share_bp, ba.default_share_bp, 5000) END
FROM prod
JOIN cand c ON TRUE
JOIN affiliates_trackedlink l ON l.id = c.link_id AND l.is_active
JOIN affiliates_promoter cr ON cr.id = l.creator_id AND cr.status = 'approved'
JOIN affiliates_commissionplan p ON p.product_id = prod.product_id AND p.is_active
LEFT JOIN affiliates_trackedlink pl ON pl.id = l.parent_id
LEFT JOIN affiliates_promoter sh ON l.parent_id IS NOT NULL AND sh.id = l.promoter_id
LEFT JOIN affiliates_targetedrate t ON p.kind = 'public' AND t.plan_id = p.id AND t.promoter_id = cr.id
LEFT JOIN affiliates_agency ag ON ag.id = COALESCE(cr.agency_id, sh.bound_agency_id) AND ag.is_active
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
  AND (%(self_ok)s OR %(buyer_user)s::bigint IS NULL OR
       (cr.user_id <> %(buyer_user)s AND (sh.id IS NULL OR sh.user_id <> %(buyer_user)s)))
ORDER BY prod.product_id, c.clicked_at DESC, c.click_id
"""


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
        "links": links,
        "times": times,
        "ids": ids,
        "since": now - timedelta(days=settings.ATTRIBUTION_DAYS),
        "now": now + timedelta(minutes=5),  # clock skew between web processes
        "buyer": buyer_id,
        "buyer_user": buyer_id,
        "products": product_ids,
        "self_ok": bool(settings.AFFILIATE_SELF_PURCHASE),
    }
    with connection.cursor() as cursor:
        cursor.execute(_SQL, params)
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
