"""The same payment notification delivered 5 times at once (threads, own connections, real HTTP
handling through Django's test client): one payment, one transition, one notification. And a payment
racing the unpaid-order job: the order ends either paid or cancelled-and-refunded, never both."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Notification
from shop import signals
from shop.models import Order, OrderEvent, Payment, Refund
from shop.services.orders import orders_cancel_overdue
from shop.services.payments import payment_start
from tests.load.test_checkout_race import race
from tests.shop.order_factories import celery_eager, place_order  # noqa: F401
from tests.shop.test_payment_flow import NOTIFY, post_notification

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def test_five_identical_notifications_at_once(wechatpay_sandbox):
    order = place_order(quantity=1)
    payment_start(order_id=order.pk, buyer=order.buyer, client_ip="1.2.3.4", return_url="")
    payment = Payment.objects.get(order=order)
    headers, body = wechatpay_sandbox.confirm(payment.prepay_id)
    paid_signals = []
    lock = threading.Lock()

    def on_paid(sender, order, **kwargs):
        with lock:
            paid_signals.append(order.pk)

    signals.order_paid.connect(on_paid)
    try:
        results, errors = race(5, lambda i: post_notification(Client(), NOTIFY, headers, body).status_code)
    finally:
        signals.order_paid.disconnect(on_paid)
    assert errors == [] and results == [204] * 5
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Payment.objects.filter(status="succeeded").count() == 1
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1
    assert paid_signals == [order.pk]
    owner = order.shop.owner
    assert Notification.objects.filter(user=owner, kind="order_paid").count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_payment_racing_the_timeout_job_ends_consistent(wechatpay_sandbox, attempt):
    order = place_order(quantity=1)
    payment_start(order_id=order.pk, buyer=order.buyer, client_ip="1.2.3.4", return_url="")
    payment = Payment.objects.get(order=order)
    headers, body = wechatpay_sandbox.confirm(payment.prepay_id)
    Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now() - timedelta(seconds=1))
    barrier = threading.Barrier(2)
    outcome = {}

    def notify():
        try:
            barrier.wait()
            outcome["status"] = post_notification(Client(), NOTIFY, headers, body).status_code
        finally:
            connection.close()

    def cancel():
        try:
            barrier.wait()
            orders_cancel_overdue()
        finally:
            connection.close()

    threads = [threading.Thread(target=notify), threading.Thread(target=cancel)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    # A row the job skipped (locked by the notification) is picked up on its next run.
    orders_cancel_overdue()
    order.refresh_from_db()
    assert outcome["status"] == 204
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    # Paid means paid: the job asks the provider before cancelling, whoever wins the race.
    assert order.status == Order.Status.PAID
    assert not Refund.objects.exists()
    assert OrderEvent.objects.filter(order=order, kind__in=["paid", "cancelled"]).count() == 1
