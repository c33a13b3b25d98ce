"""Promoter notifications, sent by beat jobs that read the database (never by the services that made
the change, so a lost signal or a crash between commit and send loses nothing):

- `notices_send` (every two minutes, for what happened since its last run, with a margin): an
  application approved or rejected (to the applicant), a 推客 who joined (to their creator or agency
  owner), a clawback (to the promoter whose settled commission it takes back);
- `commission_digest_send` (daily): one message per promoter with yesterday's settled commission
  (by the day its orders completed), never one per order.

Each notification has a key naming its event, so however often a job runs over the same rows, a
person gets it once (accounts.services.notification_send).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from affiliates.models import CommissionEntry, Promoter, StatsWatermark

WATERMARK = "notices"
MARGIN = timedelta(minutes=5)


def _yuan(fen: int) -> str:
    from shop.templatetags.money import format_fen

    return format_fen(fen)


def _send(*, user_id: int, key: str, kind: str, title: str, body: str = "", url: str = "") -> None:
    from accounts.services import notification_send

    notification_send(user_id=user_id, key=key, kind=kind, title=title, body=body, url=url)


def notices_send(*, now: datetime | None = None) -> int:
    """Notify what happened since the last run (see the module docstring). Returns how many."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        mark = StatsWatermark.objects.select_for_update().filter(name=WATERMARK).first()
        since = (mark.value if mark else now - timedelta(days=1)) - MARGIN
        for promoter in Promoter.objects.filter(reviewed_at__gte=since, status__in=["approved", "rejected"]):
            approved = promoter.status == Promoter.Status.APPROVED
            _send(
                user_id=promoter.user_id,
                key=f"promoter-review:{promoter.pk}:{promoter.reviewed_at.timestamp():.0f}",
                kind="promoter_application",
                title=_("Your promoter application was approved")
                if approved
                else _("Your promoter application was not approved"),
                body=promoter.review_note,
                url=reverse("affiliates:home"),
            )
            sent += 1
        joined = Promoter.objects.filter(bound_at__gte=since).select_related("bound_creator", "bound_agency")
        for sharer in joined:
            leader_user = (
                sharer.bound_creator.user_id
                if sharer.bound_creator_id
                else getattr(sharer.bound_agency, "owner_id", None)
            )
            if leader_user is None:
                continue
            _send(
                user_id=leader_user,
                key=f"sharer-joined:{sharer.pk}:{sharer.bound_at.timestamp():.0f}",
                kind="sharer_joined",
                title=_("%(name)s joined your 推客 team") % {"name": sharer.display_name},
                url=reverse("promoter-centre:team")
                if sharer.bound_creator_id
                else reverse("promoter-centre:agency"),
            )
            sent += 1
        clawbacks = CommissionEntry.objects.filter(
            kind=CommissionEntry.Kind.CLAWBACK, promoter__isnull=False, created_at__gte=since
        ).select_related("promoter", "order")
        for entry in clawbacks:
            _send(
                user_id=entry.promoter.user_id,
                key=f"clawback:{entry.pk}",
                kind="commission_clawback",
                title=_("Commission of %(amount)s taken back") % {"amount": _yuan(-entry.amount_fen)},
                body=_("Order %(number)s was refunded after it completed.") % {"number": entry.order.number},
                url=reverse("affiliates:ledger"),
            )
            sent += 1
        StatsWatermark.objects.update_or_create(name=WATERMARK, defaults={"value": now})
    return sent


def commission_digest_send(*, day=None) -> int:
    """One message per promoter with the commission settled on `day` (default yesterday, shop time),
    by the day their orders completed. Returns how many promoters were told."""
    day = day or timezone.localdate() - timedelta(days=1)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    rows = (
        CommissionEntry.objects.filter(
            promoter__isnull=False,
            kind=CommissionEntry.Kind.COMMISSION,
            status=CommissionEntry.Status.SETTLED,
            settled_at__gte=start,
            settled_at__lt=start + timedelta(days=1),
        )
        .values("promoter_id", "promoter__user_id")
        .annotate(total=Sum("amount_fen"), count=Count("id"))
        .order_by()
    )
    sent = 0
    with transaction.atomic():
        for row in rows:
            if not row["total"]:
                continue
            _send(
                user_id=row["promoter__user_id"],
                key=f"commission-digest:{row['promoter_id']}:{day.isoformat()}",
                kind="commission_digest",
                title=_("%(amount)s of commission settled on %(day)s")
                % {"amount": _yuan(row["total"]), "day": day.strftime("%m-%d")},
                body=_("%(count)d orders completed; the money can now be withdrawn.")
                % {"count": row["count"]},
                url=reverse("payouts:withdrawals"),
            )
            sent += 1
    return sent
