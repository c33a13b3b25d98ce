"""Reads of withdrawals shared by pages, API and admin."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce

from affiliates.models import Agency, CommissionEntry, Promoter
from payouts.models import BalanceEntry, Withdrawal


def _payee(promoter: Promoter | None, agency: Agency | None) -> dict:
    if (promoter is None) == (agency is None):
        raise ValueError("one payee: a promoter or an agency")
    return {"promoter": promoter} if promoter is not None else {"agency": agency}


def wallet_of(*, promoter: Promoter | None = None, agency: Agency | None = None) -> dict[str, int]:
    """A promoter's (or an agency's: its service fees) money in fen, two queries: settled commission
    (clawbacks netted), pending commission, clawed back, what withdrawals hold or paid, and the
    available balance."""
    who = _payee(promoter, agency)
    commission = CommissionEntry.objects.filter(**who).aggregate(
        settled=Coalesce(Sum("amount_fen", filter=Q(status="settled")), Value(0)),
        pending=Coalesce(Sum("amount_fen", filter=Q(status="pending")), Value(0)),
        clawed_back=Coalesce(Sum("amount_fen", filter=Q(kind="clawback")), Value(0)),
    )
    entries = BalanceEntry.objects.filter(**who).aggregate(
        total=Coalesce(Sum("amount_fen"), Value(0)),
        paid=Coalesce(
            Sum("amount_fen", filter=Q(kind="withdrawal", withdrawal__status=Withdrawal.Status.PAID)),
            Value(0),
        ),
    )
    sums = [commission["settled"], commission["pending"], commission["clawed_back"]]
    return _wallet(*sums, entries["total"], entries["paid"])


def withdrawals_of(*, promoter: Promoter | None = None, agency: Agency | None = None):
    _payee(promoter, agency)
    return withdrawals_of_payee(
        promoter_id=getattr(promoter, "pk", None), agency_id=getattr(agency, "pk", None)
    )


def withdrawals_of_payee(*, promoter_id: int | None = None, agency_id: int | None = None):
    """withdrawals_of by the payee's id (the withdrawal pages know ids, not rows)."""
    if (promoter_id is None) == (agency_id is None):
        raise ValueError("one payee: a promoter or an agency")
    who = {"promoter_id": promoter_id} if promoter_id is not None else {"agency_id": agency_id}
    return Withdrawal.objects.filter(**who).order_by("-created_at", "-id")


@dataclass(frozen=True)
class WithdrawalPageState:
    """What a withdrawal page needs to know about its signed-in user, read on every view: the payee,
    the promoter menu's facts, the wallet, and `listed`, which changes whenever the listed
    withdrawals change (one is asked for; a state or reason moves). `listed` is None off
    PostgreSQL: the page is then built for every request."""

    user_id: int
    payee_id: int
    allowed: bool  # an approved promoter (their page), an active agency's owner (the agency's)
    title: str  # the agency's name on its page, "" on a promoter's
    nav: tuple | None  # (promoter id, status, role, agency owner id, agency name) of the user's profile
    wallet: dict[str, int]
    listed: tuple | None


def _wallet(settled, pending, clawed_back, entries_total, entries_paid) -> dict[str, int]:
    """The wallet's figures (wallet_of, withdrawal_page_state) from the two ledgers' sums: commission
    settled, pending and clawed back; balance entries in all and those of paid withdrawals."""
    withdrawn = -int(entries_total)  # held by open withdrawals plus paid out
    paid = -int(entries_paid)
    return {
        "settled_fen": int(settled),
        "pending_fen": int(pending),
        "clawed_back_fen": -int(clawed_back),
        "paid_out_fen": paid,
        "in_withdrawal_fen": withdrawn - paid,
        "available_fen": int(settled) - withdrawn,
    }


_PAYEE_SQL = {
    # The user's promoter profile (with the agency it belongs to, for the menu).
    "promoter": """
        SELECT p.id AS payee_id, p.status = 'approved' AS allowed, '' AS title,
               p.id AS nav_id, p.status, p.role, a.owner_id, a.name AS agency_name
        FROM affiliates_promoter p LEFT JOIN affiliates_agency a ON a.id = p.agency_id
        WHERE p.user_id = %(user)s
    """,
    # The active agency the user owns (the first by name, as affiliates.selectors.agency_of), and the
    # owner's own promoter profile, if any, for the menu.
    "agency": """
        SELECT g.id AS payee_id, TRUE AS allowed, g.name AS title,
               p.id AS nav_id, p.status, p.role, a.owner_id, a.name AS agency_name
        FROM affiliates_agency g
        LEFT JOIN affiliates_promoter p ON p.user_id = g.owner_id
        LEFT JOIN affiliates_agency a ON a.id = p.agency_id
        WHERE g.owner_id = %(user)s AND g.is_active
        ORDER BY g.name, g.id LIMIT 1
    """,
}

# The wallet (settled, pending and clawed-back commission; what withdrawals took and paid out) and a
# fingerprint of the payee's withdrawals (which exist, the state and reason of each) in one
# statement. The balance is the same sum the withdrawal's POST checks under the lock.
_STATE_SQL = """
WITH payee AS ({payee})
SELECT payee.*, c.settled, c.pending, c.clawed_back, b.total, b.paid, w.n, w.last, w.fingerprint
FROM payee
CROSS JOIN LATERAL (
    SELECT COALESCE(SUM(amount_fen) FILTER (WHERE status = 'settled'), 0) AS settled,
           COALESCE(SUM(amount_fen) FILTER (WHERE status = 'pending'), 0) AS pending,
           COALESCE(SUM(amount_fen) FILTER (WHERE kind = 'clawback'), 0) AS clawed_back
    FROM affiliates_commissionentry WHERE {column} = payee.payee_id
) c
CROSS JOIN LATERAL (
    SELECT COALESCE(SUM(e.amount_fen), 0) AS total,
           COALESCE(SUM(e.amount_fen) FILTER (WHERE e.kind = 'withdrawal' AND w.status = 'paid'), 0) AS paid
    FROM payouts_balanceentry e JOIN payouts_withdrawal w ON w.id = e.withdrawal_id
    WHERE e.{column} = payee.payee_id
) b
CROSS JOIN LATERAL (
    SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS last,
           COALESCE(SUM(('x' || substr(md5(id::text || ':' || status || ':' || reason), 1, 15))
                        ::bit(60)::bigint), 0) AS fingerprint
    FROM payouts_withdrawal WHERE {column} = payee.payee_id
) w
"""

_STATE_SQL_BY_PAYEE = {
    payee: _STATE_SQL.format(payee=sql, column=f"{payee}_id") for payee, sql in _PAYEE_SQL.items()
}


def withdrawal_page_state(*, user_id: int, payee: str) -> WithdrawalPageState | None:
    """The withdrawal page's state for `user_id` as `payee` ("promoter": their own page, "agency":
    the agency they own), or None when they are no such payee. One statement on PostgreSQL."""
    if connection.vendor != "postgresql":
        return _withdrawal_page_state_orm(user_id=user_id, payee=payee)
    with connection.cursor() as cursor:
        cursor.execute(_STATE_SQL_BY_PAYEE[payee], {"user": user_id})
        row = cursor.fetchone()
    if row is None:
        return None
    payee_id, allowed, title, nav_id, status, role, owner_id, agency_name, *sums = row
    *money, count, last, fingerprint = sums
    return WithdrawalPageState(
        user_id=user_id,
        payee_id=payee_id,
        allowed=bool(allowed),
        title=title,
        nav=(nav_id, status, role, owner_id, agency_name) if nav_id is not None else None,
        wallet=_wallet(*money),
        listed=(int(count), int(last), int(fingerprint)),
    )


def _withdrawal_page_state_orm(*, user_id: int, payee: str) -> WithdrawalPageState | None:
    """withdrawal_page_state through the ORM (the local demo's SQLite): no fingerprint, never cached."""
    promoter = Promoter.objects.filter(user_id=user_id).select_related("agency").first()
    nav = None
    if promoter is not None:
        own_agency = promoter.agency
        shown = (own_agency.owner_id, own_agency.name) if own_agency else (None, None)
        nav = (promoter.pk, promoter.status, promoter.role, *shown)
    if payee == "promoter":
        if promoter is None:
            return None
        wallet, payee_id, title = wallet_of(promoter=promoter), promoter.pk, ""
        allowed = promoter.status == Promoter.Status.APPROVED
    else:
        agency = Agency.objects.filter(owner_id=user_id, is_active=True).order_by("name", "pk").first()
        if agency is None:
            return None
        wallet, payee_id, title, allowed = wallet_of(agency=agency), agency.pk, agency.name, True
    return WithdrawalPageState(
        user_id=user_id, payee_id=payee_id, allowed=allowed, title=title, nav=nav, wallet=wallet, listed=None
    )


def withdrawal_queue_totals() -> dict:
    """Operator's view: how many withdrawals and how much wait in each open state."""
    rows = (
        Withdrawal.objects.filter(status__in=["requested", "under_review", "approved"])
        .values("status")
        .annotate(count=Count("id"), amount_fen=Sum("amount_fen"))
    )
    return {row["status"]: {"count": row["count"], "amount_fen": int(row["amount_fen"] or 0)} for row in rows}
