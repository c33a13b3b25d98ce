"""Promoter statistics rollups: after a random mix of clicks, orders, refunds and settlements, the
rollups agree with the clicks and the ledger (property test), incremental runs equal a full rebuild,
running twice changes nothing, and the reads are a fixed number of queries."""

import uuid
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from affiliates import stats
from affiliates.ledger import ledger_sync
from affiliates.models import Click, CommissionEntry, PromoterDailyStat
from affiliates.selectors import balance_of, link_stats
from shop.models import Order
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


def _refund_one(order: Order) -> None:
    line = order.lines.get()
    if line.quantity - line.refunded_quantity < 1:
        return
    record = order_refund(
        order_id=order.pk,
        actor=None,
        reason="质量问题",
        lines=[RefundLineSpec(line_id=line.pk, quantity=1)],
    )
    refund_settle(
        out_refund_no=record.out_refund_no,
        refund_id=f"50{uuid.uuid4().int % 10**20:020d}",
        amount_fen=record.amount_fen,
        succeeded_at=None,
    )


def _cells(promoter) -> set[tuple]:
    return set(
        PromoterDailyStat.objects.filter(promoter=promoter)
        .exclude(**dict.fromkeys(stats.METRICS, 0))
        .values_list("day", "scene", "product_id", *stats.METRICS)
    )


def _check_against_ledger_and_clicks(promoter, links) -> None:
    today = timezone.localdate()  # everything in these tests happens within the last four days
    everything = stats.Period(today - timedelta(days=5), today, "custom")
    result = stats.promoter_stats(promoter_ids=[promoter.pk], period=everything, products_limit=1000)
    totals = result["totals"]
    balance = balance_of(promoter=promoter)
    # Money: exactly the ledger.
    assert totals["pending_fen"] == balance["pending_fen"]
    assert totals["settled_fen"] - totals["clawed_back_fen"] == balance["settled_fen"]
    entries = CommissionEntry.objects.filter(promoter=promoter)
    assert totals["cancelled_fen"] == sum(e.amount_fen for e in entries if e.status == "cancelled")
    assert totals["clawed_back_fen"] == -sum(e.amount_fen for e in entries if e.kind == "clawback")
    commissions = [e for e in entries if e.kind == "commission"]
    assert totals["gmv_fen"] == sum(e.base_fen for e in commissions)
    assert totals["orders"] == len({e.order_id for e in commissions})
    # Clicks: every stored click, and the visits the links page counts (its own SQL).
    assert totals["clicks"] == Click.objects.filter(link__promoter=promoter).count()
    assert totals["visits"] == sum(s["visits"] for s in link_stats([link.pk for link in links]).values())
    # Every breakdown adds up to the totals; the chart draws the table's numbers.
    for breakdown in ("scenes", "products"):
        for name in stats.METRICS:
            assert sum(row[name] for row in result[breakdown]) == totals[name], (breakdown, name)
    chart = stats.chart_data(result)
    assert sum(chart["orders"]) == totals["orders"]
    assert sum(chart["commission_fen"]) == totals["commission_fen"]


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("click"),
            st.integers(0, 2),  # link
            st.integers(0, 3),  # visitor
            st.integers(0, 80),  # hours ago
            st.integers(0, 59),  # minutes
        ),
        st.tuples(st.just("order"), st.integers(0, 2), st.integers(1, 3)),
        st.tuples(st.just("complete"), st.integers(0, 5)),
        st.tuples(st.just("refund"), st.integers(0, 5)),
        st.tuples(st.just("sync")),
        st.tuples(st.just("rollup")),
    ),
    min_size=3,
    max_size=10,
)


@given(ops=operations)
@hypothesis_settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_statistics_equal_the_ledger_after_a_random_mix(ops):
    creator = make_promoter()
    skus = [make_sku(price_fen=price) for price in (1999, 3333, 12800)]
    links = []
    for index, sku in enumerate(skus):
        offer(sku, 1000 + 500 * index)
        links.append(creator_link(creator, sku, scene=["channels_video", "moments", "group"][index]))
    orders: list[Order] = []
    now = timezone.now()
    for op in ops:
        if op[0] == "click":
            _, link, visitor, hours, minutes = op
            Click.objects.create(
                click_id=uuid.uuid4(),
                link=links[link],
                visitor=f"visitor{visitor}",
                clicked_at=now - timedelta(hours=hours, minutes=minutes),
            )
        elif op[0] == "order":
            client = Client()
            click(client, links[op[1]])
            orders.append(pay_order(buy(client, make_buyer(), skus[op[1]], quantity=op[2])))
        elif op[0] == "complete" and orders:
            order = orders[op[1] % len(orders)]
            order.refresh_from_db()
            if order.status == "paid":
                orders[op[1] % len(orders)] = complete(order)
        elif op[0] == "refund" and orders:
            order = orders[op[1] % len(orders)]
            order.refresh_from_db()
            _refund_one(order)
        elif op[0] == "sync":
            ledger_sync()
        elif op[0] == "rollup":
            stats.stats_rollup()
    ledger_sync()
    stats.stats_rollup()
    _check_against_ledger_and_clicks(creator, links)
    incremental = _cells(creator)
    assert stats.stats_rollup() and _cells(creator) == incremental  # twice: nothing changes
    stats.stats_rollup(full=True)
    assert _cells(creator) == incremental  # a full rebuild finds the same


def test_repeat_clicks_count_once_across_midnight_in_shop_time():
    creator = make_promoter()
    sku = make_sku()
    offer(sku)
    link = creator_link(creator, sku)
    midnight = timezone.make_aware(timezone.datetime(2026, 11, 20))  # shop time (Asia/Shanghai)
    for minutes, visitor in ((-10, "a"), (10, "a"), (45, "a"), (5, "b")):
        Click.objects.create(
            click_id=uuid.uuid4(),
            link=link,
            visitor=visitor,
            clicked_at=midnight + timedelta(minutes=minutes),
        )
    stats.stats_rollup()
    rows = dict(PromoterDailyStat.objects.filter(promoter=creator).values_list("day", "clicks"))
    assert rows == {date(2026, 11, 19): 1, date(2026, 11, 20): 3}
    day = PromoterDailyStat.objects.get(promoter=creator, day=date(2026, 11, 20))
    # a's click at 00:10 repeats 23:50 (one visit, yesterday); 00:45 is a new visit; b is one.
    assert (day.visits, day.visitors) == (2, 2)


@pytest.mark.django_db(transaction=True)
def test_two_rollups_at_once_take_turns():
    import threading

    from django.db import connection

    creator = make_promoter()
    sku = make_sku()
    offer(sku)
    link = creator_link(creator, sku)
    for n in range(200):
        Click.objects.create(
            click_id=uuid.uuid4(),
            link=link,
            visitor=f"v{n % 7}",
            clicked_at=timezone.now() - timedelta(minutes=17 * n),
        )
    barrier = threading.Barrier(2)
    failures = []

    def run():
        try:
            barrier.wait()
            stats.stats_rollup(full=True)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    together = _cells(creator)
    assert sum(row[3] for row in together) == 200
    stats.stats_rollup(full=True)
    assert _cells(creator) == together


def test_stats_reads_are_a_fixed_number_of_queries(django_assert_max_num_queries):
    creator = make_promoter()
    for index in range(6):
        sku = make_sku(price_fen=1000 + index)
        offer(sku)
        link = creator_link(creator, sku, scene=["chat", "moments"][index % 2])
        for n in range(10):
            Click.objects.create(
                click_id=uuid.uuid4(),
                link=link,
                visitor=f"v{n}",
                clicked_at=timezone.now() - timedelta(days=n),
            )
    stats.stats_rollup()
    period = stats.period_from(key="30")
    with django_assert_max_num_queries(4):
        result = stats.promoter_stats(promoter_ids=[creator.pk], period=period)
    assert result["totals"]["clicks"] == 60 and len(result["days"]) == 30 and len(result["products"]) == 6
