"""The commission ledger: the split adds up (property test), pending on payment, settled on
completion, cancelled by a freeze, idempotent jobs, and the same ledger with every signal dropped."""

import threading

import pytest
from django.db import connection
from django.test import Client
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from affiliates import services
from affiliates.ledger import commission_split, ledger_settle, ledger_sync
from affiliates.models import CommissionEntry
from affiliates.selectors import balance_of
from shop import signals
from tests.affiliates.helpers import (
    buy,
    click,
    complete,
    creator_link,
    ledger_rows,
    make_buyer,
    make_promoter,
    make_sharer,
    make_sku,
    offer,
    pay_order,
)
from tests.shop.order_factories import celery_eager  # noqa: F401


@given(
    base=st.integers(min_value=0, max_value=10**10),
    rate=st.integers(min_value=0, max_value=9000),
    fee=st.integers(min_value=0, max_value=5000),
    share=st.integers(min_value=1000, max_value=10000),
    has_agency=st.booleans(),
    has_sharer=st.booleans(),
)
@hypothesis_settings(max_examples=300, deadline=None)
def test_split_parts_always_add_up(base, rate, fee, share, has_agency, has_sharer):
    parts = commission_split(
        base_fen=base,
        rate_bp=rate,
        agency_fee_bp=fee,
        share_bp=share,
        has_agency=has_agency,
        has_sharer=has_sharer,
    )
    assert parts["creator"] + parts["sharer"] + parts["agency"] == parts["commission"]
    assert all(parts[k] >= 0 for k in parts)
    assert parts["commission"] <= base * rate / 10000 < parts["commission"] + 1


@pytest.mark.django_db
def test_sql_split_matches_python_for_random_lines():
    """The job's SQL computes exactly what commission_split says, over many random lines."""
    import random

    rng = random.Random(8)
    agency = services.agency_create(name="星光机构", service_fee_bp=1500)
    creator = make_promoter(agency=agency)
    sharer = make_sharer(under=creator)
    expected = {}
    for _ in range(25):
        price, rate, share = rng.randint(1, 99999), rng.randint(0, 9000), rng.randint(1000, 10000)
        sku = make_sku(price_fen=price)
        offer(sku, rate)
        link = creator_link(creator, sku)
        services.share_set(owner=creator, share_bp=share, product=sku.product)
        child = services.child_link_create(promoter=sharer, parent_code=link.code)
        client = Client()
        click(client, child)
        quantity = rng.randint(1, 5)
        order = pay_order(buy(client, make_buyer(), sku, quantity))
        line = order.lines.get()
        expected[line.pk] = commission_split(
            base_fen=price * quantity,
            rate_bp=rate,
            agency_fee_bp=1500,
            share_bp=share,
            has_agency=True,
            has_sharer=True,
        )
    ledger_sync()
    for line_id, parts in expected.items():
        got = dict(CommissionEntry.objects.filter(order_line_id=line_id).values_list("role", "amount_fen"))
        assert got == {"creator": parts["creator"], "sharer": parts["sharer"], "agency": parts["agency"]}
        assert sum(got.values()) == parts["commission"]


@pytest.mark.django_db
def test_pending_on_payment_then_settled_on_completion():
    sku = make_sku(price_fen=12345)
    offer(sku, 1000)
    creator = make_promoter()
    client = Client()
    click(client, creator_link(creator, sku))
    order = buy(client, make_buyer(), sku, 2)
    assert ledger_sync()["accrued"] == 0  # placed, not paid: nothing yet
    pay_order(order)
    ledger_sync()
    entry = CommissionEntry.objects.get()
    assert (entry.status, entry.amount_fen, entry.base_fen, entry.rate_bp) == ("pending", 2469, 24690, 1000)
    assert balance_of(promoter=creator) == {"settled_fen": 0, "pending_fen": 2469}
    order = complete(order)
    ledger_sync()
    entry.refresh_from_db()
    assert (entry.status, entry.settled_at) == ("settled", order.completed_at)
    assert balance_of(promoter=creator) == {"settled_fen": 2469, "pending_fen": 0}
    before = ledger_rows()
    assert ledger_sync() == {"accrued": 0, "adjusted": 0, "cancelled": 0, "settled": 0}
    assert ledger_rows() == before


@pytest.mark.django_db
def test_freeze_cancels_pending_on_unfinished_orders_only(operator):
    sku = make_sku(price_fen=10000)
    offer(sku, 1000)
    creator = make_promoter()
    client = Client()
    click(client, creator_link(creator, sku))
    finished = complete(pay_order(buy(client, make_buyer(), sku)))
    unfinished = pay_order(buy(client, make_buyer(), sku))
    ledger_sync()
    services.promoter_freeze(promoter_id=creator.pk, operator=operator)
    states = dict(CommissionEntry.objects.values_list("order_id", "status"))
    assert states == {finished.pk: "settled", unfinished.pk: "cancelled"}
    complete(unfinished)
    ledger_sync()
    assert CommissionEntry.objects.get(order=unfinished).status == "cancelled"
    assert balance_of(promoter=creator) == {"settled_fen": 1000, "pending_fen": 0}


@pytest.mark.django_db
def test_unfreeze_restores_what_the_freeze_cancelled_on_live_orders(operator):
    """Frozen while three orders were unfinished: one completes while frozen, one is refunded in
    full while frozen (so closed), one is still open. Unfreezing puts back the commission of the
    completed and the open one (the completed one settles at its completion time); the closed
    order's stays cancelled. Orders placed while frozen were never attributed and stay so."""
    from affiliates.models import Click
    from tests.affiliates.test_refunds import refund

    sku = make_sku(price_fen=10000)
    offer(sku, 1000)
    creator = make_promoter()
    client = Client()
    click(client, creator_link(creator, sku))
    completes = pay_order(buy(client, make_buyer(), sku))
    refunded = pay_order(buy(client, make_buyer(), sku))
    still_open = pay_order(buy(client, make_buyer(), sku))
    ledger_sync()
    services.promoter_freeze(promoter_id=creator.pk, operator=operator)
    assert set(CommissionEntry.objects.values_list("status", "cancel_reason")) == {("cancelled", "freeze")}
    completes = complete(completes)
    refund(refunded, quantity=1)
    placed_while_frozen = buy(client, make_buyer(), sku)
    assert placed_while_frozen.lines.get().attribution is None
    ledger_sync()
    assert balance_of(promoter=creator) == {"settled_fen": 0, "pending_fen": 0}

    services.promoter_unfreeze(promoter_id=creator.pk, operator=operator)
    rows = {e.order_id: e for e in CommissionEntry.objects.filter(kind="commission")}
    assert (rows[completes.pk].status, rows[completes.pk].settled_at) == ("settled", completes.completed_at)
    assert (rows[still_open.pk].status, rows[still_open.pk].cancel_reason) == ("pending", "")
    refunded.refresh_from_db()
    assert refunded.status == "closed"  # refunded in full: closed, so its commission stays cancelled
    assert (rows[refunded.pk].status, rows[refunded.pk].cancel_reason) == ("cancelled", "freeze")
    assert balance_of(promoter=creator) == {"settled_fen": 1000, "pending_fen": 1000}
    assert placed_while_frozen.pk not in rows
    before = ledger_rows()
    services.promoter_unfreeze(promoter_id=creator.pk, operator=operator)  # again: nothing changes
    assert ledger_sync() == {"accrued": 0, "adjusted": 0, "cancelled": 0, "settled": 0}
    assert ledger_rows() == before
    assert Click.objects.exists()


@pytest.mark.django_db
def test_unfreeze_without_restoring_keeps_the_freeze_cancellations(operator):
    sku = make_sku(price_fen=10000)
    offer(sku, 1000)
    creator = make_promoter()
    client = Client()
    click(client, creator_link(creator, sku))
    order = pay_order(buy(client, make_buyer(), sku))
    ledger_sync()
    services.promoter_freeze(promoter_id=creator.pk, operator=operator)
    services.promoter_unfreeze(promoter_id=creator.pk, operator=operator, restore_commission=False)
    creator.refresh_from_db()
    assert creator.status == "approved"
    assert CommissionEntry.objects.get(order=order).status == "cancelled"
    # ...and the promoter earns again from new orders.
    click(client, creator.links.get())
    new_order = complete(pay_order(buy(client, make_buyer(), sku)))
    ledger_sync()
    assert CommissionEntry.objects.get(order=new_order).status == "settled"


@pytest.mark.django_db
def test_agency_and_sharer_chain():
    agency = services.agency_create(name="机构A", service_fee_bp=1000)
    creator = make_promoter(agency=agency)
    services.share_set(owner=creator, share_bp=5000)
    sharer = make_sharer(under=creator)
    sku = make_sku(price_fen=10001)
    offer(sku, 3333)
    child = services.child_link_create(promoter=sharer, parent_code=creator_link(creator, sku).code)
    client = Client()
    click(client, child)
    pay_order(buy(client, make_buyer(), sku))
    ledger_sync()
    rows = dict(CommissionEntry.objects.values_list("role", "amount_fen"))
    # 10001 × 33.33% = 3333 (merchant keeps the fraction); fee 333; 推客 half of 3000; creator the rest.
    assert rows == {"agency": 333, "sharer": 1500, "creator": 1500}


def _scenario(tag: str) -> dict:
    """One run of a small shop day: two creators, a 推客, orders paid, completed, cancelled."""
    agency = services.agency_create(name=f"机构{tag}", service_fee_bp=1200)
    creator = make_promoter(agency=agency)
    other = make_promoter()
    sharer = make_sharer(under=creator)
    sku = make_sku(price_fen=9990)
    offer(sku, 1500)
    link = creator_link(creator, sku)
    other_link = creator_link(other, sku, scene="search")
    child = services.child_link_create(promoter=sharer, parent_code=link.code, scene="chat")
    orders = {}
    for name, via in (("a", link), ("b", other_link), ("c", child), ("d", link)):
        client = Client()
        click(client, via)
        orders[name] = buy(client, make_buyer(), sku, quantity=2)
    pay_order(orders["a"])
    pay_order(orders["b"])
    pay_order(orders["c"])
    _refund_one(orders["c"])  # before settlement: a reversal
    complete(orders["a"])
    complete(orders["c"])
    _refund_one(orders["a"])  # after settlement: a clawback
    return orders  # b paid (pending), d never paid


def _refund_one(order) -> None:
    from shop.services.refunds import RefundLineSpec, order_refund, refund_settle

    record = order_refund(
        order_id=order.pk,
        actor=None,
        reason="退一件",
        lines=[RefundLineSpec(line_id=order.lines.get().pk, quantity=1)],
    )
    refund_settle(
        out_refund_no=record.out_refund_no, refund_id=f"50{record.pk:020d}", amount_fen=record.amount_fen
    )


def _normalised(orders: dict) -> list:
    label = {order.pk: name for name, order in orders.items()}
    rows = CommissionEntry.objects.filter(order_id__in=label).values_list(
        "order_id", "role", "kind", "status", "amount_fen", "rate_bp", "scene", "settled_at"
    )
    return sorted(
        (label[o], role, kind, st_, amount, rate, scene, bool(at))
        for o, role, kind, st_, amount, rate, scene, at in rows
    )


@pytest.mark.django_db(transaction=True)
def test_dropped_signals_give_the_same_ledger(celery_eager, monkeypatch):  # noqa: F811
    """Live: every order event wakes the ledger job at once (the announcer delivers each receiver
    through the outbox and Celery, here run in-process). Dropped: affiliates hears nothing and the
    beat job runs once at the end. Both ledgers are the same, row for row."""
    from affiliates import ledger

    runs = []
    real_sync = ledger.ledger_sync
    monkeypatch.setattr(ledger, "ledger_sync", lambda: runs.append(1) or real_sync())
    live = _scenario("live")
    live_rows = _normalised(live)
    assert {row[3] for row in live_rows} == {"pending", "settled"}
    assert {row[2] for row in live_rows} == {"commission", "reversal", "clawback"}
    assert runs  # the signals did wake the job

    monkeypatch.setattr(ledger, "ledger_sync", real_sync)
    uids = {
        s: f"affiliates.ledger_on_{n}"
        for s, n in (
            (signals.order_paid, "paid"),
            (signals.order_cancelled, "cancelled"),
            (signals.order_completed, "completed"),
            (signals.order_refunded, "refunded"),
            (signals.order_closed, "closed"),
        )
    }
    receivers = {s: [r for r in s.receivers if r[0][0] == uid] for s, uid in uids.items()}
    for signal_, uid in uids.items():
        assert signal_.disconnect(dispatch_uid=uid)
    try:
        dropped = _scenario("dropped")
        assert _normalised(dropped) == []  # nobody told affiliates anything
        ledger_sync()
        assert _normalised(dropped) == live_rows
    finally:
        for signal_, saved in receivers.items():
            signal_.receivers.extend(saved)
            signal_.sender_receivers_cache.clear()


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_and_twice_change_nothing():
    orders = _scenario("race")
    barrier, results, errors = threading.Barrier(2), [], []

    def worker():
        try:
            barrier.wait()
            results.append(ledger_sync())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    once = _normalised(orders)
    # Exactly one worker did the work; the other found nothing left to do.
    written = sorted(r["accrued"] + r["adjusted"] for r in results)
    assert written == [0, len(once)]
    assert min(sum(r.values()) for r in results) == 0
    ledger_sync()
    assert ledger_settle() == 0
    assert _normalised(orders) == once
