"""Promoter notifications from beat jobs: application decided, 推客 joined, clawback, and the daily
settled-commission digest (one per promoter and day, never one per order); each arrives once however
often the jobs run."""

import uuid

import pytest
from django.utils import timezone

from accounts.models import Notification
from affiliates.ledger import ledger_sync
from affiliates.notices import commission_digest_send, notices_send
from outbox.models import Message
from outbox.services import outbox_deliver
from shop.services.refunds import order_refund, refund_settle
from tests.affiliates.helpers import make_promoter, make_sharer
from tests.payouts.helpers import earn

pytestmark = pytest.mark.django_db


def _deliver() -> None:
    for message_id in Message.objects.filter(done_at__isnull=True).values_list("pk", flat=True):
        outbox_deliver(message_id=message_id)


def _kinds(user) -> list[str]:
    return sorted(Notification.objects.filter(user=user).values_list("kind", flat=True))


def test_review_join_and_clawback_are_told_once(operator):
    creator = make_promoter(operator=operator)
    sharer = make_sharer(under=creator, operator=operator)
    order = earn(creator, commission_fen=500)
    refund = order_refund(order_id=order.pk, actor=None, reason="退货", full=True)
    refund_settle(
        out_refund_no=refund.out_refund_no,
        refund_id=f"50{uuid.uuid4().int % 10**20:020d}",
        amount_fen=refund.amount_fen,
    )
    ledger_sync()
    for _ in range(2):
        notices_send()
        _deliver()
    assert _kinds(creator.user) == ["commission_clawback", "promoter_application", "sharer_joined"]
    assert _kinds(sharer.user) == ["promoter_application"]
    clawback = Notification.objects.get(user=creator.user, kind="commission_clawback")
    assert "¥5.00" in clawback.title and order.number in clawback.body


def test_settled_commission_comes_as_one_daily_digest(operator):
    creator = make_promoter(operator=operator)
    for amount in (300, 200, 150):
        earn(creator, commission_fen=amount)
    today = timezone.localdate()
    assert commission_digest_send(day=today) == 1
    assert commission_digest_send(day=today) == 1  # sent again, delivered once
    _deliver()
    digest = Notification.objects.get(user=creator.user, kind="commission_digest")
    assert "¥6.50" in digest.title and "3" in digest.body
