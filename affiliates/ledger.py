"""The commission ledger's jobs. Each is one set-based SQL statement that compares the ledger with
the state of orders, order lines and refunds, and writes only what is missing, so running it twice
changes nothing, and a lost signal only means it runs at the next beat:

1. ledger_accrue: paid, attributed order lines without entries get one `commission` row per payee
   (creator, 推客, agency), computed from the line's snapshot (commission_split below, in SQL).
   A gift order's own line earns nothing: each claimed copy is a sub-order whose line carries the
   same snapshot and earns on its own, so only claimed copies earn, and refunds of a claimed copy
   reverse its commission like any other refund; unclaimed copies never had any.
2. ledger_adjust: each succeeded refund line of an attributed line gets, per commission row, a
   negative row in proportion to the money refunded (cumulative, so a full refund takes exactly
   everything): a `reversal` when the refund succeeded before the order completed, else a
   `clawback` (settled at once; the balance may go negative).
3. ledger_cancel: pending commission (and its reversals) is cancelled when the order was cancelled
   or closed, when its line was refunded in full, or when the payee is frozen and the order was not
   completed before the freeze; `cancel_reason` records which (order, refund, freeze), so that
   unfreezing a promoter can restore what the freeze took (ledger_restore_frozen).
4. ledger_settle: pending rows of completed orders become settled (settled_at = completed_at).

`ledger_sync` runs all four in one transaction under a PostgreSQL advisory lock, so two workers
never interleave (the second waits and then finds nothing to do); the unique constraints on the
ledger back that up. Timestamps come from the orders and refunds, not from when a job ran, so the
ledger comes out the same whether signals woke the jobs at once or the beat ran them much later.
"""

from django.db import connection, transaction
from django.utils import timezone

from affiliates.sql import db_datetime, is_postgres

LOCK_KEY = 0x4146_4C45_4447_4552 & 0x7FFF_FFFF_FFFF_FFFF  # "AFLEDGER"


def commission_split(
    *, base_fen: int, rate_bp: int, agency_fee_bp: int, share_bp: int, has_agency: bool, has_sharer: bool
) -> dict:
    """The chain in integer fen: the merchant's commission (rounded down; the merchant keeps the
    fraction), the agency fee out of it, then the 推客's share of the rest; the creator takes the
    remainder, so the parts always add up to the commission. Mirrors _ACCRUE_SQL."""
    commission = base_fen * rate_bp // 10000
    agency = commission * agency_fee_bp // 10000 if has_agency else 0
    sharer = (commission - agency) * share_bp // 10000 if has_sharer else 0
    return {
        "commission": commission,
        "agency": agency,
        "sharer": sharer,
        "creator": commission - agency - sharer,
    }


_COLUMNS = """kind, role, status, promoter_id, agency_id, order_id, order_line_id, shop_id, product_id,
     link_id, parent_id, refund_line_id, scene, rate_bp, base_fen, commission_fen, agency_fee_bp, share_bp,
     amount_fen, created_at, settled_at, cancelled_at, cancel_reason"""

# Plain SQL that PostgreSQL and the local demo's SQLite (3.38+) both run; %(now)s is the job's time.
_ACCRUE_SQL = f"""
WITH src AS (
    SELECT l.id AS line_id, l.order_id, o.shop_id, l.product_id, l.total_fen AS base, o.completed_at,
           CAST(l.attribution->>'link' AS bigint) AS link_id, l.attribution->>'scene' AS scene,
           CAST(l.attribution->>'rate_bp' AS bigint) AS rate_bp,
           COALESCE(CAST(l.attribution->>'agency_fee_bp' AS bigint), 0) AS fee_bp,
           COALESCE(CAST(l.attribution->>'share_bp' AS bigint), 0) AS share_bp,
           CAST(l.attribution->>'creator' AS bigint) AS creator_id,
           CAST(l.attribution->>'sharer' AS bigint) AS sharer_id,
           CAST(l.attribution->>'agency' AS bigint) AS agency_id
    FROM shop_orderline l JOIN shop_order o ON o.id = l.order_id
    WHERE l.attribution IS NOT NULL AND o.paid_at IS NOT NULL AND o.kind <> 'gift'
      AND NOT EXISTS (SELECT 1 FROM affiliates_commissionentry e
                      WHERE e.order_line_id = l.id AND e.kind = 'commission')
), c1 AS (
    SELECT src.*, base * rate_bp / 10000 AS commission FROM src
), c2 AS (
    SELECT c1.*, CASE WHEN agency_id IS NULL THEN 0 ELSE commission * fee_bp / 10000 END AS agency_part
    FROM c1
), c3 AS (
    SELECT c2.*,
           CASE WHEN sharer_id IS NULL THEN 0
                ELSE (commission - agency_part) * share_bp / 10000 END AS sharer_part
    FROM c2
), payees AS (
    SELECT c3.*, 'creator' AS role, creator_id AS payee_promoter, CAST(NULL AS bigint) AS payee_agency,
           commission - agency_part - sharer_part AS amount FROM c3
    UNION ALL
    SELECT c3.*, 'sharer', sharer_id, CAST(NULL AS bigint), sharer_part FROM c3 WHERE sharer_id IS NOT NULL
    UNION ALL
    SELECT c3.*, 'agency', CAST(NULL AS bigint), agency_id, agency_part FROM c3 WHERE agency_id IS NOT NULL
)
INSERT INTO affiliates_commissionentry ({_COLUMNS})
SELECT 'commission', p.role,
       CASE WHEN pr.status = 'frozen' AND (p.completed_at IS NULL OR p.completed_at > pr.frozen_at)
            THEN 'cancelled' ELSE 'pending' END,
       p.payee_promoter, p.payee_agency, p.order_id, p.line_id, p.shop_id, p.product_id, p.link_id,
       NULL, NULL, p.scene, p.rate_bp, p.base, p.commission,
       CASE WHEN p.agency_id IS NULL THEN 0 ELSE p.fee_bp END,
       CASE WHEN p.sharer_id IS NULL THEN 0 ELSE p.share_bp END,
       p.amount, %(now)s, NULL,
       CASE WHEN pr.status = 'frozen' AND (p.completed_at IS NULL OR p.completed_at > pr.frozen_at)
            THEN %(now)s END,
       CASE WHEN pr.status = 'frozen' AND (p.completed_at IS NULL OR p.completed_at > pr.frozen_at)
            THEN 'freeze' ELSE '' END
FROM payees p
LEFT JOIN affiliates_promoter pr ON pr.id = p.payee_promoter
WHERE p.payee_promoter IS NOT NULL OR p.payee_agency IS NOT NULL
ON CONFLICT (order_line_id, role) WHERE kind = 'commission' DO NOTHING
"""

_ADJUST_SQL = f"""
WITH rl AS (
    SELECT x.id AS refund_line_id, x.line_id, x.amount_fen, r.succeeded_at,
           SUM(x.amount_fen) OVER (PARTITION BY x.line_id ORDER BY r.succeeded_at, x.id) AS cumulative
    FROM shop_refundline x JOIN shop_refund r ON r.id = x.refund_id
    WHERE r.status = 'succeeded' AND x.amount_fen > 0
      AND x.line_id IN (SELECT e.order_line_id FROM affiliates_commissionentry e
                        WHERE e.kind = 'commission' AND e.status <> 'cancelled')
), due AS (
    SELECT e.*, rl.refund_line_id AS due_refund_line, rl.succeeded_at,
           CASE WHEN rl.cumulative < l.total_fen THEN rl.cumulative ELSE l.total_fen END AS upto,
           CASE WHEN rl.cumulative - rl.amount_fen < l.total_fen THEN rl.cumulative - rl.amount_fen
                ELSE l.total_fen END AS before,
           l.total_fen AS line_total,
           CASE WHEN o.completed_at IS NOT NULL AND rl.succeeded_at >= o.completed_at THEN 1 ELSE 0 END
               AS late
    FROM rl
    JOIN affiliates_commissionentry e
         ON e.order_line_id = rl.line_id AND e.kind = 'commission' AND e.status <> 'cancelled'
    JOIN shop_orderline l ON l.id = rl.line_id
    JOIN shop_order o ON o.id = l.order_id
    WHERE l.total_fen > 0
      AND NOT EXISTS (SELECT 1 FROM affiliates_commissionentry a
                      WHERE a.parent_id = e.id AND a.refund_line_id = rl.refund_line_id)
)
INSERT INTO affiliates_commissionentry ({_COLUMNS})
SELECT CASE WHEN late = 1 THEN 'clawback' ELSE 'reversal' END, role,
       CASE WHEN late = 1 THEN 'settled' ELSE status END,
       promoter_id, agency_id, order_id, order_line_id, shop_id, product_id, link_id,
       id, due_refund_line, scene, rate_bp, base_fen, commission_fen, agency_fee_bp, share_bp,
       -(amount_fen * upto / line_total - amount_fen * before / line_total),
       %(now)s, CASE WHEN late = 1 THEN succeeded_at WHEN status = 'settled' THEN settled_at END, NULL, ''
FROM due
WHERE 1 = 1
ON CONFLICT (parent_id, refund_line_id) WHERE parent_id IS NOT NULL DO NOTHING
"""

_CANCEL_SQL = """
WITH dead AS (
    SELECT e.id,
           CASE WHEN o.status IN ('cancelled', 'closed') THEN 'order'
                WHEN pr.status = 'frozen' AND (o.completed_at IS NULL OR o.completed_at > pr.frozen_at)
                     THEN 'freeze'
                ELSE 'refund' END AS reason
    FROM affiliates_commissionentry e
    JOIN shop_order o ON o.id = e.order_id
    LEFT JOIN affiliates_promoter pr ON pr.id = e.promoter_id
    WHERE e.kind = 'commission' AND e.status = 'pending'
      AND (o.status IN ('cancelled', 'closed')
           OR (pr.status = 'frozen' AND (o.completed_at IS NULL OR o.completed_at > pr.frozen_at))
           OR (e.amount_fen > 0 AND e.amount_fen + COALESCE(
                 (SELECT SUM(a.amount_fen) FROM affiliates_commissionentry a
                  WHERE a.parent_id = e.id AND a.kind = 'reversal'), 0) <= 0))
)
UPDATE affiliates_commissionentry
SET status = 'cancelled', cancelled_at = %(now)s, cancel_reason = dead.reason
FROM dead
WHERE affiliates_commissionentry.status = 'pending' AND affiliates_commissionentry.kind <> 'clawback'
  AND (affiliates_commissionentry.id = dead.id OR affiliates_commissionentry.parent_id = dead.id)
"""

# What a freeze cancelled, for one promoter, on orders still alive (an unfreeze restores it; the
# sync that follows settles, adjusts or cancels it as the order stands now).
_RESTORE_SQL = """
UPDATE affiliates_commissionentry SET status = 'pending', cancelled_at = NULL, cancel_reason = ''
WHERE promoter_id = %(promoter)s AND status = 'cancelled' AND cancel_reason = 'freeze'
  AND order_id IN (SELECT o.id FROM shop_order o WHERE o.status NOT IN ('cancelled', 'closed'))
"""

_SETTLE_SQL = """
UPDATE affiliates_commissionentry AS e SET status = 'settled', settled_at = o.completed_at
FROM shop_order AS o
WHERE e.order_id = o.id AND e.status = 'pending' AND o.status = 'completed' AND o.completed_at IS NOT NULL
"""


def _run(sql: str, **params) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": db_datetime(timezone.now()), **params})
        if cursor.rowcount >= 0 or is_postgres():
            return cursor.rowcount
        cursor.execute("SELECT changes()")  # SQLite gives no row count for INSERT ... SELECT upserts
        return cursor.fetchone()[0]


def _lock() -> None:
    """The ledger lock for this transaction (SQLite, the local demo, writes one at a time anyway)."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _refund_lines_exist() -> bool:
    from django.apps import apps

    try:
        apps.get_model("shop", "RefundLine")
    except LookupError:
        return False
    return True


def ledger_accrue() -> int:
    with transaction.atomic():
        _lock()
        return _run(_ACCRUE_SQL)


def ledger_adjust() -> int:
    if not _refund_lines_exist():
        return 0
    with transaction.atomic():
        _lock()
        return _run(_ADJUST_SQL)


def ledger_cancel() -> int:
    with transaction.atomic():
        _lock()
        return _run(_CANCEL_SQL)


def ledger_settle() -> int:
    with transaction.atomic():
        _lock()
        return _run(_SETTLE_SQL)


def ledger_restore_frozen(*, promoter_id: int) -> int:
    """Put back to pending what freezing `promoter_id` cancelled on orders not cancelled or closed
    (called by promoter_unfreeze, inside its transaction, before a ledger_sync). Returns the rows
    restored; a second run finds none."""
    with transaction.atomic():
        _lock()
        return _run(_RESTORE_SQL, promoter=promoter_id)


def ledger_sync() -> dict[str, int]:
    """All four steps in order, in one transaction under the ledger lock. Idempotent; safe in
    several workers at once (they take turns)."""
    with transaction.atomic():
        _lock()
        counts = {"accrued": _run(_ACCRUE_SQL)}
        counts["adjusted"] = _run(_ADJUST_SQL) if _refund_lines_exist() else 0
        counts["cancelled"] = _run(_CANCEL_SQL)
        counts["settled"] = _run(_SETTLE_SQL)
    return counts
