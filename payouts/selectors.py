"""Reads of withdrawals shared by pages, API and admin."""

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
    settled = int(commission["settled"])
    withdrawn = -int(entries["total"])  # held by open withdrawals plus paid out
    paid = -int(entries["paid"])
    return {
        "settled_fen": settled,
        "pending_fen": int(commission["pending"]),
        "clawed_back_fen": -int(commission["clawed_back"]),
        "paid_out_fen": paid,
        "in_withdrawal_fen": withdrawn - paid,
        "available_fen": settled - withdrawn,
    }


def withdrawals_of(*, promoter: Promoter | None = None, agency: Agency | None = None):
    return Withdrawal.objects.filter(**_payee(promoter, agency)).order_by("-created_at", "-id")


def withdrawal_queue_totals() -> dict:
    """Operator's view: how many withdrawals and how much wait in each open state."""
    rows = (
        Withdrawal.objects.filter(status__in=["requested", "under_review", "approved"])
        .values("status")
        .annotate(count=Count("id"), amount_fen=Sum("amount_fen"))
    )
    return {row["status"]: {"count": row["count"], "amount_fen": int(row["amount_fen"] or 0)} for row in rows}
