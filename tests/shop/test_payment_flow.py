"""Payments end to end against the WeChat Pay v3 sandbox: prepay over real HTTP through the SDK, the
sandbox confirms and signs the notification, our endpoint verifies it and is the only path to paid.
Refunds likewise. Celery tasks run eagerly on commit in these tests (celery_eager)."""

import json

import pytest
from django.urls import reverse

from accounts.models import Notification
from shop import signals
from shop.models import SKU, Order, OrderEvent, Payment, Refund
from shop.payments.sandbox.notify import build_payment_notification, build_refund_notification
from shop.services.errors import InvalidTransition, PaymentExpired, RefundExceedsPaid
from shop.services.orders import order_cancel
from shop.services.payments import payment_start, refund_create
from tests.shop.order_factories import celery_eager, make_sku, place_order  # noqa: F401

pytestmark = pytest.mark.django_db

NOTIFY = "/payments/notify/wechatpay/"
REFUND_NOTIFY = "/payments/notify/wechatpay/refund/"


def post_notification(client, url, headers, body):
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return client.post(url, data=body, content_type="application/json", headers=headers)


def start(order) -> Payment:
    result = payment_start(
        order_id=order.pk, buyer=order.buyer, client_ip="10.0.0.8", return_url="http://x/done"
    )
    assert result.pay_url.startswith("http")
    payment = Payment.objects.get(order=order)
    assert payment.prepay_id == result.prepay_id
    return payment


@pytest.fixture
def paid_signals():
    seen = []

    def receiver(sender, order, **kwargs):
        seen.append((order.pk, kwargs.get("refund")))

    signals.order_paid.connect(receiver, weak=False)
    yield seen
    signals.order_paid.disconnect(receiver)


@pytest.mark.usefixtures("celery_eager")
def test_pay_through_the_sandbox_marks_paid_once_and_tells_the_merchant(
    client, wechatpay_sandbox, paid_signals, django_capture_on_commit_callbacks
):
    order = place_order(quantity=2)
    payment = start(order)
    headers, body = wechatpay_sandbox.confirm(payment.prepay_id)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_notification(client, NOTIFY, headers, body)
    assert response.status_code == 204
    order.refresh_from_db(), payment.refresh_from_db()
    assert order.status == Order.Status.PAID and order.paid_at
    assert payment.status == Payment.Status.SUCCEEDED and payment.transaction_id
    assert paid_signals == [(order.pk, None)]
    owner = order.shop.owner
    assert (
        Notification.objects.filter(
            user=owner, kind="order_paid", key=f"order-paid:{order.pk}:{owner.pk}"
        ).count()
        == 1
    )

    # WeChat delivers again: accepted, nothing changes, nothing is sent.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = post_notification(client, NOTIFY, headers, body)
    assert again.status_code == 204 and callbacks == []
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1
    assert Notification.objects.filter(user=owner).count() == 1


def test_starting_payment_twice_reuses_the_payment(wechatpay_sandbox):
    order = place_order()
    first = start(order)
    second = start(order)
    assert first.pk == second.pk and Payment.objects.filter(order=order).count() == 1


def test_a_tampered_notification_is_refused_and_changes_nothing(client, wechatpay_sandbox):
    order = place_order()
    payment = start(order)
    headers, body = wechatpay_sandbox.confirm(payment.prepay_id)
    tampered = body.replace(b'"summary":"', b'"summary":"x')
    response = post_notification(client, NOTIFY, headers, tampered)
    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CREATED


def test_an_unsigned_notification_is_refused(client, wechatpay_sandbox):
    order = place_order()
    payment = start(order)
    _, body = wechatpay_sandbox.confirm(payment.prepay_id)
    response = client.post(NOTIFY, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_a_wrong_amount_is_refused_and_changes_nothing(client, wechatpay_sandbox):
    order = place_order()
    payment = start(order)
    headers, body = build_payment_notification(
        out_trade_no=payment.out_trade_no, transaction_id="4200000000000000000000000001", amount_fen=1
    )
    response = post_notification(client, NOTIFY, headers, body)
    assert response.status_code == 400
    assert "应付 1000 分" in response.json()["message"]  # WeChat Pay talks to us in the default language
    order.refresh_from_db(), payment.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and payment.status == Payment.Status.CREATED


def test_a_notification_for_an_unknown_payment_is_refused(client, wechatpay_sandbox):
    headers, body = build_payment_notification(
        out_trade_no="P-nope", transaction_id="4200000000000000000000000002", amount_fen=100
    )
    response = post_notification(client, NOTIFY, headers, body)
    assert response.status_code == 404 and response.json()["code"] == "FAIL"


def test_payment_start_refuses_orders_not_awaiting_payment(wechatpay_sandbox):
    order = place_order()
    order_cancel(order_id=order.pk, buyer=order.buyer)
    with pytest.raises(InvalidTransition):
        payment_start(order_id=order.pk, buyer=order.buyer, client_ip="1.1.1.1", return_url="")
    late = place_order()
    Order.objects.filter(pk=late.pk).update(payment_deadline=late.created_at)
    with pytest.raises(PaymentExpired):
        payment_start(order_id=late.pk, buyer=late.buyer, client_ip="1.1.1.1", return_url="")
    assert not Payment.objects.exists()


@pytest.mark.usefixtures("celery_eager")
def test_cancelling_closes_the_payment_at_the_provider(wechatpay_sandbox, django_capture_on_commit_callbacks):
    order = place_order()
    payment = start(order)
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, buyer=order.buyer)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CLOSED
    assert wechatpay_sandbox.transaction(payment.out_trade_no)["trade_state"] == "CLOSED"


@pytest.mark.usefixtures("celery_eager")
def test_money_arriving_for_a_cancelled_order_is_recorded_and_refunded(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    refunded = []

    def on_refunded(sender, order, refund, **kwargs):
        refunded.append(refund.pk)

    signals.order_refunded.connect(on_refunded)
    sku = make_sku(stock=3)
    order = place_order(sku=sku, quantity=2)
    payment = start(order)
    order_cancel(order_id=order.pk, buyer=order.buyer)  # on_commit not run: the close never happened
    headers, body = wechatpay_sandbox.confirm(payment.prepay_id, force=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_notification(client, NOTIFY, headers, body)
    assert response.status_code == 204
    order.refresh_from_db(), payment.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert payment.status == Payment.Status.SUCCEEDED
    refund = Refund.objects.get(order=order)
    assert refund.amount_fen == order.total_fen and refund.status == Refund.Status.PROCESSING
    assert refund.refund_id  # the task sent it to the sandbox, which accepted it
    assert SKU.objects.get(pk=sku.pk).stock == 3  # stock went back once, at cancel

    headers, body = wechatpay_sandbox.refund_notification(refund.out_refund_no)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    refund.refresh_from_db(), order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.refunded_fen == order.total_fen
    assert all(line.refunded_quantity == line.quantity for line in order.lines.all())
    assert refunded == [refund.pk]
    signals.order_refunded.disconnect(on_refunded)


def test_a_refund_above_what_was_paid_is_refused(client, wechatpay_sandbox):
    from django.db import transaction

    order = place_order()
    payment = start(order)
    headers, body = wechatpay_sandbox.confirm(payment.prepay_id)
    post_notification(client, NOTIFY, headers, body)
    payment.refresh_from_db()
    with pytest.raises(RefundExceedsPaid), transaction.atomic():
        refund_create(order=order, payment=payment, amount_fen=payment.amount_fen + 1, reason="x")
    with transaction.atomic():
        refund_create(order=order, payment=payment, amount_fen=payment.amount_fen - 1, reason="x")
    with pytest.raises(RefundExceedsPaid), transaction.atomic():
        refund_create(order=order, payment=payment, amount_fen=2, reason="x")
    assert Refund.objects.count() == 1


def test_a_refund_notification_with_a_wrong_amount_is_refused(client, wechatpay_sandbox):
    from django.db import transaction

    order = place_order()
    payment = start(order)
    post_notification(client, NOTIFY, *wechatpay_sandbox.confirm(payment.prepay_id))
    payment.refresh_from_db()
    with transaction.atomic():
        refund = refund_create(order=order, payment=payment, amount_fen=100, reason="x")
    headers, body = build_refund_notification(
        out_refund_no=refund.out_refund_no,
        refund_id="5030000000000000000000000001",
        out_trade_no=payment.out_trade_no,
        transaction_id=payment.transaction_id,
        amount_fen=999,
        total_fen=payment.amount_fen,
    )
    response = post_notification(client, REFUND_NOTIFY, headers, body)
    assert response.status_code == 400 and json.loads(response.content)["code"] == "FAIL"
    refund.refresh_from_db(), order.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING and order.refunded_fen == 0


def test_pay_page_starts_the_payment_and_sends_the_buyer_to_the_provider(client, wechatpay_sandbox):
    order = place_order()
    client.force_login(order.buyer)
    page = client.get(reverse("shop:order-pay", args=[order.number]))
    assert page.status_code == 200 and order.number in page.content.decode()
    response = client.post(reverse("shop:order-pay", args=[order.number]))
    assert response.status_code == 302
    assert response["Location"].startswith(wechatpay_sandbox.url)


def test_pay_page_of_someone_elses_order_is_404(client, other_shopper, wechatpay_sandbox):
    order = place_order()
    client.force_login(other_shopper)
    assert client.get(reverse("shop:order-pay", args=[order.number])).status_code == 404
    assert client.post(reverse("shop:order-pay", args=[order.number])).status_code == 404
