"""Refunds and the ledger: before settlement a proportional reversal (cancelled in full when the
whole line is refunded), after settlement a negative clawback; partial refunds per line; the same
result with signals dropped; idempotent."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client

from affiliates.ledger import ledger_sync
from affiliates.models import CommissionEntry
from affiliates.selectors import balance_of
from shop.services.refunds import RefundLineSpec, order_refund, refund_settle
from tests.affiliates.helpers import (
    buy,
    click,
    complete,
    creator_link,
    make_buyer,
    make_promoter,
    make_sku,
    offer,
    pay_order,
)

pytestmark = pytest.mark.django_db


def refund(order, *, quantity=0, amount_fen=None, at=None) -> None:
    """A merchant refund on the order's line through the shop's services, settled as the provider's
    notification would settle it."""
    line = order.lines.get()
    record = order_refund(
        order_id=order.pk,
        actor=None,
        reason="质量问题",
        lines=[RefundLineSpec(line_id=line.pk, quantity=quantity, amount_fen=amount_fen)],
    )
    refund_settle(
        out_refund_no=record.out_refund_no,
        refund_id=f"50{uuid.uuid4().int % 10**20:020d}",
        amount_fen=record.amount_fen,
        succeeded_at=at,
    )


@pytest.fixture
def sold():
    sku = make_sku(price_fen=3333)
    offer(sku, 1000)
    creator = make_promoter()
    client = Client()
    click(client, creator_link(creator, sku))
    order = pay_order(buy(client, make_buyer(), sku, quantity=3))
    ledger_sync()
    return order, creator


def test_full_refund_before_settlement_cancels(sold):
    order, creator = sold
    refund(order, quantity=3)
    ledger_sync()
    rows = sorted(CommissionEntry.objects.values_list("kind", "status", "amount_fen"))
    assert rows == [("commission", "cancelled", 999), ("reversal", "cancelled", -999)]
    assert balance_of(promoter=creator) == {"settled_fen": 0, "pending_fen": 0}


def test_partial_refunds_before_settlement_are_proportional_and_exact(sold):
    order, creator = sold  # 3 × ¥33.33, commission 999
    refund(order, quantity=1)
    ledger_sync()
    assert balance_of(promoter=creator)["pending_fen"] == 999 - 333
    refund(order, quantity=1)
    ledger_sync()
    complete(order)
    ledger_sync()
    assert balance_of(promoter=creator) == {"settled_fen": 333, "pending_fen": 0}
    assert sorted(CommissionEntry.objects.values_list("kind", "status", "amount_fen")) == [
        ("commission", "settled", 999),
        ("reversal", "settled", -333),
        ("reversal", "settled", -333),
    ]


def test_refund_after_settlement_writes_a_settled_clawback(sold):
    order, creator = sold
    order = complete(order)
    ledger_sync()
    assert balance_of(promoter=creator)["settled_fen"] == 999
    refund(order, quantity=3, at=order.completed_at + timedelta(days=1))
    ledger_sync()
    clawback = CommissionEntry.objects.get(kind="clawback")
    assert (clawback.status, clawback.amount_fen) == ("settled", -999)
    assert balance_of(promoter=creator)["settled_fen"] == 0
    # Nothing changes on a second run.
    assert ledger_sync() == {"accrued": 0, "adjusted": 0, "cancelled": 0, "settled": 0}
