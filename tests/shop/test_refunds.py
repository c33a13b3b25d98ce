"""Per-line refunds: from the merchant directly (any paid order, also after completion) and from
after-sales; exact splits; the refund event and signal carry the lines; a fully refunded unshipped
order closes; refunds in an unknown state are reconciled by asking the provider (the sandbox plays
WeChat Pay) and never paid twice, also when two things happen at once (real threads, PostgreSQL)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from shop import signals
from shop.models import SKU, Order, OrderEvent, Refund, RefundLine
from shop.services.errors import InvalidTransition, OrderNotFound, RefundExceedsPaid
from shop.services.orders import order_ship, orders_complete_due
from shop.services.payments import payment_start
from shop.services.refunds import (
    RefundLineSpec,
    order_refund,
    refund_create,
    refund_notification_handle,
    refunds_reconcile,
    split_fen,
)
from tests.shop.order_factories import celery_eager, make_sku, place_order, receive_order, ship_order  # noqa: F401
from tests.shop.test_payment_flow import NOTIFY, REFUND_NOTIFY, post_notification


@pytest.fixture
def two_line_order(client, wechatpay_sandbox, shop):
    """A paid order of 3 × ¥10.00 and 1 × ¥25.00 from one shop, paid through the sandbox."""
    first = make_sku(shop=shop, price_fen=1000, stock=10, title="草莓蛋糕")
    second = make_sku(shop=shop, price_fen=2500, stock=10, title="芒果布丁")
    order = place_order(items=[(first.pk, 3), (second.pk, 1)])
    payment_start(order_id=order.pk, buyer=order.buyer, client_ip="1.2.3.4", return_url="")
    payment = order.payments.get()
    assert post_notification(client, NOTIFY, *wechatpay_sandbox.confirm(payment.prepay_id)).status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.total_fen == 5500 + order.shipping_fen
    return order


def _lines(order):
    return list(order.lines.order_by("pk"))


def _settle(client, sandbox, refund):
    headers, body = sandbox.refund_notification(refund.out_refund_no)
    assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    refund.refresh_from_db()
    return refund


@pytest.fixture
def refunded_signals():
    seen = {"refunded": [], "closed": []}

    def on_refunded(sender, order, refund, lines, data, **kwargs):
        seen["refunded"].append(
            (order.pk, refund.pk, [(x.line_id, x.quantity, x.amount_fen) for x in lines], data)
        )

    def on_closed(sender, order, **kwargs):
        seen["closed"].append(order.pk)

    signals.order_refunded.connect(on_refunded, weak=False)
    signals.order_closed.connect(on_closed, weak=False)
    yield seen
    signals.order_refunded.disconnect(on_refunded)
    signals.order_closed.disconnect(on_closed)


# --- splits --------------------------------------------------------------------------------------


def test_split_adds_up_exactly_gives_remainders_to_the_largest_and_never_exceeds_a_part():
    assert split_fen(100, [("a", 1), ("b", 1), ("c", 1)]) == {"a": 34, "b": 33, "c": 33}
    assert split_fen(10, [("a", 3), ("b", 7), ("ship", 5)]) == {"a": 2, "b": 5, "ship": 3}
    for amount in range(0, 1001, 7):
        weights = [(1, 333), (2, 1), (3, 250), ("shipping", 416)]
        shares = split_fen(amount, weights)
        assert sum(shares.values()) == amount
        assert all(0 <= shares[key] <= weight for key, weight in weights)
    assert split_fen(1000, [(1, 333), (2, 667)]) == {1: 333, 2: 667}


# --- merchant refunds ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_merchant_refunds_units_of_a_line_and_the_event_signal_and_inbox_carry_it(
    client, two_line_order, wechatpay_sandbox, refunded_signals, django_capture_on_commit_callbacks
):
    order = two_line_order
    cake, pudding = _lines(order)
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(
            order_id=order.pk,
            actor=order.shop.owner,
            reason="少发一件",
            lines=[RefundLineSpec(line_id=cake.pk, quantity=1)],
            shop_ids=[order.shop_id],
        )
    assert refund.source == Refund.Source.MERCHANT and refund.amount_fen == 1000
    assert [(x.line_id, x.quantity, x.amount_fen) for x in refund.lines.all()] == [(cake.pk, 1, 1000)]
    requested = order.events.get(kind=OrderEvent.Kind.REFUND_REQUESTED)
    assert requested.data["lines"][0]["quantity"] == 1 and requested.data["amount_fen"] == 1000
    # Nothing moves until the provider says the money went back.
    cake.refresh_from_db()
    assert cake.refunded_fen == 0 and refunded_signals["refunded"] == []

    with django_capture_on_commit_callbacks(execute=True):
        _settle(client, wechatpay_sandbox, refund)
    assert refund.status == Refund.Status.SUCCEEDED
    order.refresh_from_db(), cake.refresh_from_db(), pudding.refresh_from_db()
    assert order.refunded_fen == 1000 and order.status == Order.Status.PAID
    assert (cake.refunded_quantity, cake.refunded_fen) == (1, 1000) and pudding.refunded_fen == 0
    event = order.events.get(kind=OrderEvent.Kind.REFUNDED)
    assert event.data == {
        "refund_id": refund.pk,
        "out_refund_no": refund.out_refund_no,
        "source": "merchant",
        "status": "succeeded",
        "amount_fen": 1000,
        "shipping_fen": 0,
        "after_sales_id": None,
        "restock": False,
        "lines": [
            {
                "order_line_id": cake.pk,
                "sku_id": cake.sku_id,
                "product_id": cake.product_id,
                "quantity": 1,
                "amount_fen": 1000,
            }
        ],
    }
    ((order_id, refund_id, lines, data),) = refunded_signals["refunded"]
    assert (order_id, refund_id, lines) == (order.pk, refund.pk, [(cake.pk, 1, 1000)]) and data == event.data
    note = Notification.objects.get(user=order.buyer, kind="refund_succeeded")
    assert "¥10.00" in note.title
    # A replayed notification changes nothing and tells nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        _settle(client, wechatpay_sandbox, refund)
    order.refresh_from_db()
    assert order.refunded_fen == 1000 and len(refunded_signals["refunded"]) == 1
    assert order.events.filter(kind=OrderEvent.Kind.REFUNDED).count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_an_order_level_amount_is_split_over_lines_exactly(
    two_line_order, django_capture_on_commit_callbacks
):
    order = two_line_order
    cake, pudding = _lines(order)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        refund = refund_create(order=locked, reason="差价", amount_fen=1001)
    # 3000 : 2500 (+ shipping when there is any): floors, then the largest remainder.
    parts = {x.line_id: x.amount_fen for x in refund.lines.all()}
    assert sum(parts.values()) + refund.shipping_fen == 1001
    assert all(x.quantity == 0 for x in refund.lines.all())
    if order.shipping_fen == 0:
        assert parts == {cake.pk: 546, pudding.pk: 455}


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_full_refund_before_shipping_closes_the_order_with_an_event_and_signal(
    client, two_line_order, wechatpay_sandbox, refunded_signals, django_capture_on_commit_callbacks
):
    """Defect 4: a paid order whose every line is refunded before it ships closes (已关闭)."""
    order = two_line_order
    cake_sku = SKU.objects.get(pk=_lines(order)[0].sku_id)
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(
            order_id=order.pk, actor=order.shop.owner, reason="缺货", full=True, restock=True
        )
    assert refund.amount_fen == order.total_fen
    cake_sku.refresh_from_db()
    assert cake_sku.stock == 10  # the 3 units went back on sale, by the merchant's choice
    with django_capture_on_commit_callbacks(execute=True):
        _settle(client, wechatpay_sandbox, refund)
    order.refresh_from_db()
    assert order.status == Order.Status.CLOSED and order.closed_at and order.refunded_fen == order.total_fen
    closed = order.events.get(kind=OrderEvent.Kind.CLOSED)
    assert (closed.from_status, closed.to_status) == ("paid", "closed")
    assert refunded_signals["closed"] == [order.pk]
    with pytest.raises(InvalidTransition):
        order_ship(order_id=order.pk, actor=order.shop.owner, carrier="顺丰速运", tracking_number="SF1")
    # Nothing is left: another refund is refused.
    with pytest.raises(InvalidTransition):
        order_refund(order_id=order.pk, actor=order.shop.owner, reason="again", full=True)


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_a_completed_order_can_be_refunded_partly_then_fully_never_beyond_what_was_paid(
    client, two_line_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = receive_order(ship_order(two_line_order), days_ago=30)
    assert orders_complete_due() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    cake, pudding = _lines(order)
    with django_capture_on_commit_callbacks(execute=True):
        first = order_refund(
            order_id=order.pk,
            actor=order.shop.owner,
            reason="补偿",
            lines=[RefundLineSpec(line_id=pudding.pk, quantity=0, amount_fen=500)],
        )
    with pytest.raises(RefundExceedsPaid):
        order_refund(
            order_id=order.pk,
            actor=order.shop.owner,
            reason="too much",
            lines=[RefundLineSpec(line_id=pudding.pk, quantity=1, amount_fen=2001)],
        )
    with django_capture_on_commit_callbacks(execute=True):
        rest = order_refund(order_id=order.pk, actor=order.shop.owner, reason="全退", full=True)
    assert first.amount_fen + rest.amount_fen == order.total_fen
    for refund in (first, rest):
        with django_capture_on_commit_callbacks(execute=True):
            _settle(client, wechatpay_sandbox, refund)
    order.refresh_from_db(), pudding.refresh_from_db()
    assert order.refunded_fen == order.total_fen and order.status == Order.Status.COMPLETED
    assert (pudding.refunded_quantity, pudding.refunded_fen) == (1, 2500)


@pytest.mark.django_db
def test_merchant_refund_refusals(two_line_order, other_shop):
    order = two_line_order
    with pytest.raises(OrderNotFound):
        order_refund(
            order_id=order.pk, actor=other_shop.owner, reason="x", full=True, shop_ids=[other_shop.pk]
        )
    with pytest.raises(InvalidTransition):
        order_refund(order_id=order.pk, actor=order.shop.owner, reason=" ", full=True)
    unpaid = place_order()
    with pytest.raises(InvalidTransition):
        order_refund(order_id=unpaid.pk, actor=unpaid.shop.owner, reason="x", full=True)
    with pytest.raises(RefundExceedsPaid):
        order_refund(
            order_id=order.pk,
            actor=order.shop.owner,
            reason="x",
            lines=[RefundLineSpec(line_id=_lines(order)[0].pk, quantity=4)],
        )
    assert not Refund.objects.exists()


# --- API and admin -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_merchant_refund_api(client, two_line_order, other_shop):
    order = two_line_order
    cake = _lines(order)[0]
    url = f"/api/v1/merchant/orders/{order.number}/refunds/"
    client.force_login(other_shop.owner)
    assert client.post(url, {"reason": "x", "full": True}, content_type="application/json").status_code == 404
    client.force_login(order.shop.owner)
    bad = client.post(url, {"reason": "x"}, content_type="application/json")
    assert bad.status_code == 400 and "lines" in bad.json()
    too_many = client.post(
        url, {"reason": "x", "lines": [{"line_id": cake.pk, "quantity": 9}]}, content_type="application/json"
    )
    assert too_many.status_code == 400 and not Refund.objects.exists()
    done = client.post(
        url,
        {"reason": "少发", "lines": [{"line_id": cake.pk, "quantity": 2}]},
        content_type="application/json",
    )
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["amount_fen"] == 2000 and body["source"] == "merchant"
    assert body["lines"] == [{"line_id": cake.pk, "quantity": 2, "amount_fen": 2000}]


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_admin_refund_page_refunds_in_yuan_and_shows_errors(client, two_line_order, other_shop):
    order = two_line_order
    cake, pudding = _lines(order)
    url = reverse("admin:shop_order_refund", args=[order.pk])
    client.force_login(other_shop.owner)
    assert client.get(url).status_code in (302, 404)
    client.force_login(order.shop.owner)
    page = client.get(reverse("admin:shop_order_change", args=[order.pk]))
    assert url in page.content.decode()
    assert client.get(url).status_code == 200
    refused = client.post(url, {"reason": "x", f"amount_{pudding.pk}": "abc"})
    assert refused.status_code == 200 and not Refund.objects.exists()
    refused = client.post(url, {"reason": "x", f"amount_{pudding.pk}": "25.01"})
    assert refused.status_code == 200 and "¥25.00" in refused.content.decode()
    done = client.post(url, {"reason": "补差价", f"amount_{pudding.pk}": "12.50", f"quantity_{cake.pk}": "1"})
    assert done.status_code == 302
    refund = Refund.objects.get()
    assert {(x.line_id, x.quantity, x.amount_fen) for x in refund.lines.all()} == {
        (pudding.pk, 0, 1250),
        (cake.pk, 1, 1000),
    }
    change = client.get(reverse("admin:shop_order_change", args=[order.pk])).content.decode()
    assert "¥22.50" in change


# --- unknown states: the reconcile job ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_a_lost_refund_notification_is_reconciled_by_asking_the_provider_once(
    two_line_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = two_line_order
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order_id=order.pk, actor=order.shop.owner, reason="x", amount_fen=700)
    wechatpay_sandbox.refund_status(refund.out_refund_no, "SUCCESS")  # the notification is lost
    assert refunds_reconcile() == 0  # too young to ask about
    later = timezone.now() + timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert refunds_reconcile(now=later) == 1
    refund.refresh_from_db(), order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and order.refunded_fen == 700
    with django_capture_on_commit_callbacks(execute=True):
        assert refunds_reconcile(now=later + timedelta(hours=1)) == 0
    order.refresh_from_db()
    assert order.refunded_fen == 700 and order.events.filter(kind=OrderEvent.Kind.REFUNDED).count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_an_abnormal_refund_holds_its_money_is_shown_to_the_merchant_and_settles_when_resolved(
    client, two_line_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = two_line_order
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order_id=order.pk, actor=order.shop.owner, reason="x", full=True)
    wechatpay_sandbox.refund_status(refund.out_refund_no, "ABNORMAL")
    from shop.payments.sandbox import state

    headers, body = state.refund_notification(wechatpay_sandbox.refund(refund.out_refund_no))
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    refund.refresh_from_db()
    assert refund.status == Refund.Status.ABNORMAL
    assert Notification.objects.filter(user=order.shop.owner, kind="refund_abnormal").count() == 1
    assert order.events.filter(kind=OrderEvent.Kind.REFUND_ABNORMAL).count() == 1
    client.force_login(order.shop.owner)
    admin_page = client.get(reverse("admin:shop_order_change", args=[order.pk])).content.decode()
    assert str(refund.get_status_display()) in admin_page
    # The money is held: no second refund of it.
    with pytest.raises(RefundExceedsPaid):
        order_refund(order_id=order.pk, actor=order.shop.owner, reason="again", full=True)
    # Still abnormal at the provider: the job asks and leaves it.
    later = timezone.now() + timedelta(minutes=30)
    assert refunds_reconcile(now=later) == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.ABNORMAL
    # The merchant settles it at WeChat Pay; the next run finds it succeeded.
    wechatpay_sandbox.refund_status(refund.out_refund_no, "SUCCESS")
    with django_capture_on_commit_callbacks(execute=True):
        assert refunds_reconcile(now=later + timedelta(minutes=30)) == 1
    refund.refresh_from_db(), order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and order.refunded_fen == order.total_fen
    assert order.status == Order.Status.CLOSED


@pytest.mark.django_db
def test_a_refund_the_provider_never_got_is_submitted_again_under_its_own_number(
    two_line_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = two_line_order
    with django_capture_on_commit_callbacks(execute=False):  # the submit task is lost
        refund = order_refund(order_id=order.pk, actor=order.shop.owner, reason="x", amount_fen=300)
    assert wechatpay_sandbox.refund(refund.out_refund_no) is None
    later = timezone.now() + timedelta(minutes=30)
    assert refunds_reconcile(now=later) == 1
    at_provider = wechatpay_sandbox.refund(refund.out_refund_no)
    assert at_provider["status"] == "PROCESSING" and at_provider["refund_fen"] == 300
    # Asked again: the provider knows it now, still one refund there.
    assert refunds_reconcile(now=later + timedelta(minutes=30)) == 1
    transaction_at_provider = wechatpay_sandbox.transaction(order.payments.get().out_trade_no)
    assert transaction_at_provider["refunded_fen"] == 300


# --- races ---------------------------------------------------------------------------------------


def _run_at_once(functions):
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait(timeout=10)
            results[index] = function()
        except Exception as exc:  # the outcome is what the test looks at
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_eager")
def test_two_refunds_at_once_never_exceed_what_was_paid(client, two_line_order):
    order = two_line_order
    owner = order.shop.owner
    results = _run_at_once(
        [
            lambda: order_refund(order_id=order.pk, actor=owner, reason="a", full=True),
            lambda: order_refund(
                order_id=order.pk, actor=owner, reason="b", amount_fen=order.total_fen - 100
            ),
            lambda: order_refund(order_id=order.pk, actor=owner, reason="c", amount_fen=200),
        ]
    )
    made = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, (RefundExceedsPaid, InvalidTransition))]
    assert len(made) + len(refused) == 3 and made
    assert sum(r.amount_fen for r in made) <= order.total_fen
    held = sum(Refund.objects.filter(order=order).values_list("amount_fen", flat=True))
    assert held <= order.total_fen
    for line in order.lines.all():
        assert (
            sum(RefundLine.objects.filter(line=line).values_list("amount_fen", flat=True)) <= line.total_fen
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_eager")
def test_a_refund_notification_replayed_at_once_settles_once(two_line_order, wechatpay_sandbox):
    order = two_line_order
    cake = _lines(order)[0]
    refund = order_refund(
        order_id=order.pk,
        actor=order.shop.owner,
        reason="x",
        lines=[RefundLineSpec(line_id=cake.pk, quantity=2)],
    )
    headers, body = wechatpay_sandbox.refund_notification(refund.out_refund_no)
    results = _run_at_once([lambda: refund_notification_handle(headers=headers, body=body) for _ in range(4)])
    assert all(isinstance(r, Refund) for r in results), results
    order.refresh_from_db(), cake.refresh_from_db()
    assert order.refunded_fen == 2000 and (cake.refunded_quantity, cake.refunded_fen) == (2, 2000)
    assert order.events.filter(kind=OrderEvent.Kind.REFUNDED).count() == 1


# --- pages stay flat in the number of refunds ------------------------------------------------------


def _refund_n_times(order, n):
    cake = _lines(order)[0]
    for _ in range(n):
        order_refund(
            order_id=order.pk,
            actor=order.shop.owner,
            reason="补偿",
            lines=[RefundLineSpec(line_id=cake.pk, quantity=0, amount_fen=100)],
        )


def _count_queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: first-request work of a fresh sign-in (session, sign-in records) is not counted
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_order_pages_do_not_grow_with_refunds(client, two_line_order, django_capture_on_commit_callbacks):
    order = two_line_order
    with django_capture_on_commit_callbacks(execute=False):
        _refund_n_times(order, 1)
    client.force_login(order.buyer)
    page, api = reverse("shop:order-detail", args=[order.number]), f"/api/v1/orders/{order.number}/"
    buyer_page, buyer_api = _count_queries(client, page), _count_queries(client, api)
    client.force_login(order.shop.owner)
    admin_page = reverse("admin:shop_order_change", args=[order.pk])
    refund_page = reverse("admin:shop_order_refund", args=[order.pk])
    merchant_admin, merchant_refund = _count_queries(client, admin_page), _count_queries(client, refund_page)
    with django_capture_on_commit_callbacks(execute=False):
        _refund_n_times(order, 4)
    client.force_login(order.buyer)
    assert _count_queries(client, page) == buyer_page
    assert _count_queries(client, api) == buyer_api
    client.force_login(order.shop.owner)
    assert _count_queries(client, admin_page) == merchant_admin
    assert _count_queries(client, refund_page) == merchant_refund


# --- more races ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_eager")
def test_the_reconcile_job_racing_the_notification_settles_once(two_line_order, wechatpay_sandbox):
    order = two_line_order
    refund = order_refund(order_id=order.pk, actor=order.shop.owner, reason="x", amount_fen=900)
    headers, body = wechatpay_sandbox.refund_notification(refund.out_refund_no)
    later = timezone.now() + timedelta(minutes=30)
    results = _run_at_once(
        [
            lambda: refund_notification_handle(headers=headers, body=body),
            lambda: refunds_reconcile(now=later),
            lambda: refund_notification_handle(headers=headers, body=body),
            lambda: refunds_reconcile(now=later),
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    order.refresh_from_db()
    assert order.refunded_fen == 900
    assert order.events.filter(kind=OrderEvent.Kind.REFUNDED).count() == 1
    assert Notification.objects.filter(user=order.buyer, kind="refund_succeeded").count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_stock_put_back_by_a_refund_shows_on_the_cached_product_page_at_once(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    """Restocking happens when the refund is started, not when it settles (it may never: here the
    provider refuses it), so the cached product page must follow then."""
    from tests.shop.order_factories import pay_order

    sku = make_sku(price_fen=800, stock=2, title="限量徽章")
    with django_capture_on_commit_callbacks(execute=True):
        order = pay_order(place_order(sku=sku, quantity=2))
    page = reverse("shop:product-detail", args=[sku.product_id])
    assert "已售罄" in client.get(page).content.decode()  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(
            order_id=order.pk, actor=order.shop.owner, reason="缺货", full=True, restock=True
        )
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED  # the sandbox never saw this payment
    assert SKU.objects.get(pk=sku.pk).stock == 2
    assert "已售罄" not in client.get(page).content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("celery_eager")
def test_a_failed_refund_reads_as_a_sentence_on_the_merchants_order_page(
    client, two_line_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    from django.utils import translation
    from django.utils.html import escape

    from shop.payments.sandbox import state
    from shop.selectors.timeline import merchant_event_sentence

    order = two_line_order
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order_id=order.pk, actor=order.shop.owner, reason="x", amount_fen=700)
    wechatpay_sandbox.refund_status(refund.out_refund_no, "CLOSED")
    headers, body = state.refund_notification(wechatpay_sandbox.refund(refund.out_refund_no))
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    event = order.events.get(kind=OrderEvent.Kind.REFUND_FAILED)
    with translation.override("zh-hans"):
        sentence = merchant_event_sentence(event)
    assert sentence.startswith("退款 ¥7.00 失败") and "微信支付关闭了这笔退款" in sentence
    assert refund.out_refund_no in sentence and not sentence.startswith(refund.out_refund_no)
    client.force_login(order.shop.owner)
    page = client.get(reverse("admin:shop_order_change", args=[order.pk])).content.decode()
    assert escape(sentence) in page
