"""Return and refund (退货退款) as merchants run it: approve → the buyer enters the return carrier and
tracking number → the merchant confirms receipt → refund (stock back by choice). The timers
(AFTER_SALES_MERCHANT_DAYS, AFTER_SALES_RETURN_DAYS, AFTER_SALES_RETURN_RECEIVE_DAYS) run by beat,
idempotent, tested by moving the clock forward. The buyer's timeline reads as sentences."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from shop.models import SKU, AfterSalesRequest, Order, OrderEvent, Refund
from shop.services.aftersales import (
    after_sales_approve,
    after_sales_create,
    after_sales_reject,
    after_sales_return_receive,
    after_sales_return_ship,
    after_sales_run_timers,
)
from shop.services.errors import InvalidTransition
from shop.services.payments import payment_start
from shop.tasks import after_sales_timers
from tests.shop.order_factories import celery_eager, make_sku, place_order, ship_order  # noqa: F401
from tests.shop.test_payment_flow import NOTIFY, REFUND_NOTIFY, post_notification

pytestmark = pytest.mark.django_db
R = AfterSalesRequest.Status


@pytest.fixture
def shipped_order(client, wechatpay_sandbox):
    sku = make_sku(stock=10, price_fen=1000, title="羊毛围巾")
    order = place_order(sku=sku, quantity=3)
    payment_start(order_id=order.pk, buyer=order.buyer, client_ip="1.2.3.4", return_url="")
    payment = order.payments.get()
    assert post_notification(client, NOTIFY, *wechatpay_sandbox.confirm(payment.prepay_id)).status_code == 204
    return ship_order(Order.objects.get(pk=order.pk))


def _return_request(order, quantity=2):
    return after_sales_create(
        buyer=order.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="return_refund",
        quantity=quantity,
        reason="尺码不合适",
    )


@pytest.mark.usefixtures("celery_eager")
def test_return_and_refund_waits_for_the_goods_then_refunds_and_restocks_by_choice(
    client, shipped_order, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = shipped_order
    sku = SKU.objects.get(pk=order.lines.get().sku_id)
    stock_before = sku.stock
    request = _return_request(order)
    with django_capture_on_commit_callbacks(execute=True):
        after_sales_approve(request_id=request.pk, actor=order.shop.owner, note="请寄回")
    request.refresh_from_db()
    # Approving a return refunds nothing yet.
    assert request.status == R.AWAITING_RETURN and not Refund.objects.exists()

    # The buyer enters the return shipment on their after-sales page.
    client.force_login(order.buyer)
    page = client.get(reverse("shop:after-sales"))
    assert page.status_code == 200 and 'data-testid="return-form"' in page.content.decode()
    bad = client.post(
        reverse("shop:after-sales-return", args=[request.pk]), {f"r{request.pk}-carrier": "顺丰速运"}
    )
    assert bad.status_code == 302
    request.refresh_from_db()
    assert request.status == R.AWAITING_RETURN
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            reverse("shop:after-sales-return", args=[request.pk]),
            {f"r{request.pk}-carrier": "顺丰速运", f"r{request.pk}-tracking_number": "SF0001"},
        )
    assert sent.status_code == 302
    request.refresh_from_db()
    assert request.status == R.RETURN_SHIPPED and request.return_tracking_number == "SF0001"
    assert Notification.objects.filter(user=order.shop.owner, kind="after_sales_return_shipped").exists()
    # Someone else cannot enter a tracking number on it.
    client.force_login(place_order().buyer)
    client.post(
        reverse("shop:after-sales-return", args=[request.pk]),
        {f"r{request.pk}-carrier": "EMS", f"r{request.pk}-tracking_number": "X"},
    )
    request.refresh_from_db()
    assert request.return_tracking_number == "SF0001"

    # The merchant confirms receipt from the admin, putting the units back on sale.
    client.force_login(order.shop.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:shop_aftersalesrequest_decide", args=[request.pk]), {"decision": "receive_restock"}
        )
    assert response.status_code == 302
    request.refresh_from_db(), sku.refresh_from_db()
    assert request.status == R.APPROVED and request.restock and sku.stock == stock_before + 2
    refund = Refund.objects.get(after_sales=request)
    assert refund.source == Refund.Source.AFTER_SALES and refund.amount_fen == 2000
    assert [(x.quantity, x.amount_fen) for x in refund.lines.all()] == [(2, 2000)]
    with django_capture_on_commit_callbacks(execute=True):
        headers, body = wechatpay_sandbox.refund_notification(refund.out_refund_no)
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    request.refresh_from_db(), order.refresh_from_db()
    assert request.status == R.REFUNDED and order.refunded_fen == 2000
    # A confirmed return cannot be confirmed into a second refund.
    after_sales_return_receive(request_id=request.pk, actor=order.shop.owner, restock=True)
    assert Refund.objects.filter(after_sales=request).count() == 1

    # The buyer reads the timeline as sentences, and was told the refund succeeded.
    client.force_login(order.buyer)
    detail = client.get(reverse("shop:order-detail", args=[order.number])).content.decode()
    assert "退款 ¥20.00 成功" in detail and "已付款 ¥30.00" in detail and refund.out_refund_no not in detail
    assert Notification.objects.filter(user=order.buyer, kind="refund_succeeded").count() == 1


def test_return_api_for_buyer_and_merchant(client, shipped_order):
    order = shipped_order
    request = _return_request(order, quantity=1)
    client.force_login(order.shop.owner)
    assert (
        client.post(
            f"/api/v1/merchant/after-sales/{request.pk}/approve/", {}, content_type="application/json"
        )
    ).json()["status"] == "awaiting_return"
    early = client.post(
        f"/api/v1/merchant/after-sales/{request.pk}/reject/", {"note": "x"}, content_type="application/json"
    )
    assert early.status_code == 400
    client.force_login(order.buyer)
    url = f"/api/v1/after-sales/{request.pk}/return-shipment/"
    assert client.post(url, {"carrier": "EMS"}, content_type="application/json").status_code == 400
    done = client.post(url, {"carrier": "EMS", "tracking_number": "E1"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "return_shipped"
    client.force_login(order.shop.owner)
    rejected = client.post(
        f"/api/v1/merchant/after-sales/{request.pk}/reject/",
        {"note": "包装已拆"},
        content_type="application/json",
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert not Refund.objects.exists()


@pytest.mark.usefixtures("celery_eager")
def test_timers_approve_unanswered_close_unreturned_and_refund_unconfirmed_once(
    shipped_order, settings, django_capture_on_commit_callbacks
):
    settings.AFTER_SALES_MERCHANT_DAYS, settings.AFTER_SALES_RETURN_DAYS = 2, 7
    settings.AFTER_SALES_RETURN_RECEIVE_DAYS = 10
    order = shipped_order
    request = _return_request(order, quantity=1)
    now = timezone.now()
    assert after_sales_run_timers(now=now + timedelta(days=1)) == 0
    # Day 3: the merchant never answered, so the return is approved.
    with django_capture_on_commit_callbacks(execute=True):
        assert after_sales_run_timers(now=now + timedelta(days=3)) == 1
        assert after_sales_run_timers(now=now + timedelta(days=3)) == 0
    request.refresh_from_db()
    assert request.status == R.AWAITING_RETURN and request.decided_by is None
    # The buyer sends it on day 5; the merchant never confirms; day 16 it is refunded, no restock.
    after_sales_return_ship(
        request_id=request.pk,
        buyer=order.buyer,
        carrier="EMS",
        tracking_number="E9",
        now=now + timedelta(days=5),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert after_sales_run_timers(now=now + timedelta(days=14)) == 0
        assert after_sales_run_timers(now=now + timedelta(days=16)) == 1
        assert after_sales_run_timers(now=now + timedelta(days=17)) == 0
    request.refresh_from_db()
    assert request.status == R.APPROVED and not request.restock
    assert Refund.objects.filter(after_sales=request).count() == 1
    assert order.events.filter(kind=OrderEvent.Kind.AFTER_SALES_RETURN_RECEIVED).count() == 1


def test_an_unreturned_request_closes_after_the_return_days_and_the_task_runs_it(shipped_order, settings):
    settings.AFTER_SALES_RETURN_DAYS = 7
    order = shipped_order
    request = _return_request(order, quantity=1)
    after_sales_approve(request_id=request.pk, actor=order.shop.owner)
    AfterSalesRequest.objects.filter(pk=request.pk).update(decided_at=timezone.now() - timedelta(days=8))
    assert after_sales_timers.apply().get() == 1  # the beat task itself, run in this process
    request.refresh_from_db()
    assert request.status == R.CLOSED and not Refund.objects.exists()
    assert order.events.filter(kind=OrderEvent.Kind.AFTER_SALES_CLOSED).count() == 1
    assert after_sales_timers.apply().get() == 0
    # Closed is final: no tracking number, no receipt, and the line is free for a new request.
    with pytest.raises(InvalidTransition):
        after_sales_return_ship(request_id=request.pk, buyer=order.buyer, carrier="EMS", tracking_number="1")
    with pytest.raises(InvalidTransition):
        after_sales_reject(request_id=request.pk, actor=order.shop.owner)
    assert _return_request(order, quantity=1).status == R.OPEN


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_eager")
def test_two_timer_runs_at_once_refund_an_unconfirmed_return_once(shipped_order, settings):
    import threading

    from django.db import connection

    settings.AFTER_SALES_RETURN_RECEIVE_DAYS = 10
    order = shipped_order
    request = _return_request(order, quantity=2)
    after_sales_approve(request_id=request.pk, actor=order.shop.owner)
    after_sales_return_ship(request_id=request.pk, buyer=order.buyer, carrier="EMS", tracking_number="E1")
    later = timezone.now() + timedelta(days=11)
    barrier, moved = threading.Barrier(3), []

    def run():
        try:
            barrier.wait(timeout=10)
            moved.append(after_sales_run_timers(now=later))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(moved) == [0, 0, 1]
    assert Refund.objects.filter(after_sales=request).count() == 1
    request.refresh_from_db()
    assert request.status == R.APPROVED


def test_events_carry_their_facts_as_data(shipped_order):
    order = shipped_order
    payment = order.payments.get()
    paid = order.events.get(kind=OrderEvent.Kind.PAID)
    assert paid.data == {
        "amount_fen": 3000,
        "payment_id": payment.pk,
        "out_trade_no": payment.out_trade_no,
        "transaction_id": payment.transaction_id,
    }
    assert order.events.get(kind=OrderEvent.Kind.SHIPPED).data == {
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
    }
    request = _return_request(order, quantity=2)
    requested = order.events.get(kind=OrderEvent.Kind.AFTER_SALES_REQUESTED)
    assert requested.data == {
        "after_sales_id": request.pk,
        "kind": "return_refund",
        "order_line_id": request.line_id,
        "quantity": 2,
        "amount_fen": 2000,
    }
    after_sales_reject(request_id=request.pk, actor=order.shop.owner, note="超出退货期")
    assert order.events.get(kind=OrderEvent.Kind.AFTER_SALES_REJECTED).data == {"after_sales_id": request.pk}
