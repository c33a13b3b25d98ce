"""Issue 7, defect 2: a payment made just before the deadline whose notification comes late is
paid, not cancelled and refunded. The cancel job asks WeChat Pay (the sandbox, over real HTTP)
first: it closes each open payment there, or records it as paid if the answer is ORDERPAID, and
never holds a lock across the call."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shop.models import SKU, Order, OrderEvent, Payment, Refund
from shop.payments.sandbox.state import SandboxError
from shop.services.orders import orders_cancel_overdue
from shop.services.payments import payment_start
from tests.shop.order_factories import celery_eager, make_sku, place_order  # noqa: F401
from tests.shop.test_payment_flow import NOTIFY, post_notification

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]


def started(order) -> Payment:
    payment_start(order_id=order.pk, buyer=order.buyer, client_ip="10.0.0.8", return_url="")
    return Payment.objects.get(order=order)


def deadline_passes(order) -> None:
    Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now() - timedelta(seconds=5))


def test_paid_at_the_provider_but_notified_late_becomes_paid_not_cancelled(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    sku = make_sku(stock=10)
    order = place_order(sku=sku, quantity=3)
    payment = started(order)
    headers, body = wechatpay_sandbox.confirm(payment.prepay_id)  # paid; the notification is late
    deadline_passes(order)

    with django_capture_on_commit_callbacks(execute=True):
        assert orders_cancel_overdue() == 0
    order.refresh_from_db(), payment.refresh_from_db()
    assert order.status == Order.Status.PAID and order.paid_at
    assert payment.status == Payment.Status.SUCCEEDED and payment.transaction_id
    assert not Refund.objects.exists()
    assert SKU.objects.get(pk=sku.pk).stock == 7  # the sale stands

    # The late notification arrives: accepted, nothing changes.
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, NOTIFY, headers, body).status_code == 204
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1
    assert not OrderEvent.objects.filter(order=order, kind="cancelled").exists()
    assert not Refund.objects.exists()


def test_unpaid_at_the_provider_is_closed_there_before_the_order_is_cancelled(
    wechatpay_sandbox, django_capture_on_commit_callbacks
):
    sku = make_sku(stock=10)
    order = place_order(sku=sku, quantity=3)
    payment = started(order)
    deadline_passes(order)

    with django_capture_on_commit_callbacks(execute=True):
        assert orders_cancel_overdue() == 1
    order.refresh_from_db(), payment.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert payment.status == Payment.Status.CLOSED
    assert wechatpay_sandbox.transaction(payment.out_trade_no)["trade_state"] == "CLOSED"
    assert SKU.objects.get(pk=sku.pk).stock == 10
    with pytest.raises(SandboxError) as refused:  # the buyer can no longer pay what we cancelled
        wechatpay_sandbox.confirm(payment.out_trade_no)
    assert refused.value.code == "ORDER_CLOSED"


def test_an_order_whose_provider_does_not_answer_waits_for_the_next_run(
    wechatpay_sandbox, django_capture_on_commit_callbacks
):
    order = place_order()
    payment = started(order)
    deadline_passes(order)
    wechatpay_sandbox.configure(GATEWAY="http://127.0.0.1:9/sandbox/wechatpay")  # nothing listens
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_cancel_overdue() == 0
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    wechatpay_sandbox.configure(GATEWAY=wechatpay_sandbox.url)
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_cancel_overdue() == 1
    order.refresh_from_db(), payment.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and payment.status == Payment.Status.CLOSED


def test_an_order_without_any_payment_is_cancelled_as_before(django_capture_on_commit_callbacks):
    order = place_order()
    deadline_passes(order)
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_cancel_overdue() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
