"""Notifications checked to the last field: correctly signed by the platform key (so only a leaked key
or a confused provider could send them) but naming another currency, another kind of payment, another
payment or another amount, they are refused with 400, logged, and change nothing."""

import json

import pytest
from django.db import transaction

from shop.models import Order, OrderEvent, Payment, Refund
from shop.payments.sandbox.notify import build_payment_notification, build_refund_notification
from shop.services.payments import refund_create
from tests.shop.order_factories import open_payment, pay_order, place_order

pytestmark = pytest.mark.django_db

NOTIFY = "/payments/notify/wechatpay/"
REFUND_NOTIFY = "/payments/notify/wechatpay/refund/"


def post(client, url, headers, body):
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return client.post(url, data=body, content_type="application/json", headers=headers)


def refused(response) -> bool:
    return response.status_code == 400 and json.loads(response.content)["code"] == "FAIL"


def _payment_notification(payment, **changes):
    arguments = {
        "out_trade_no": payment.out_trade_no,
        "transaction_id": "4200000000000000000000000042",
        "amount_fen": payment.amount_fen,
    }
    arguments.update(changes)
    return build_payment_notification(**arguments)


@pytest.mark.parametrize(
    "changes",
    [
        {"currency": "USD"},
        {"currency": "HKD"},
        {"trade_type": "NATIVE"},
        {"trade_type": "JSAPI"},
        {"trade_type": "APP"},
    ],
    ids=["usd", "hkd", "native", "jsapi", "app"],
)
def test_a_payment_in_another_currency_or_of_another_trade_type_is_refused(
    client, wechatpay_sandbox, caplog, changes
):
    order = place_order()
    payment = open_payment(order)
    with caplog.at_level("WARNING"):
        response = post(client, NOTIFY, *_payment_notification(payment, **changes))
    assert refused(response)
    assert "notification refused" in caplog.text
    order.refresh_from_db(), payment.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert payment.status == Payment.Status.CREATED and not payment.transaction_id
    assert not OrderEvent.objects.filter(order=order, kind="paid").exists()

    # The same payment in yuan through H5 is accepted: the refusal was about those fields only.
    assert post(client, NOTIFY, *_payment_notification(payment)).status_code == 204
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


@pytest.fixture
def two_refunds(wechatpay_sandbox):
    """Two paid orders, each with a refund being processed."""
    refunds = []
    for amount in (300, 500):
        order = pay_order(place_order(quantity=2))
        payment = Payment.objects.get(order=order)
        with transaction.atomic():
            refunds.append(refund_create(order=order, payment=payment, amount_fen=amount, reason="x"))
    return refunds


def _refund_notification(refund, *, payment=None, amount_fen=None, status="SUCCESS", refund_id=None):
    payment = payment or refund.payment
    return build_refund_notification(
        out_refund_no=refund.out_refund_no,
        refund_id=refund_id or refund.refund_id or "5030000000000000000000000009",
        out_trade_no=payment.out_trade_no,
        transaction_id=payment.transaction_id,
        amount_fen=refund.amount_fen if amount_fen is None else amount_fen,
        total_fen=payment.amount_fen,
        refund_status=status,
    )


def _unchanged(refund):
    refund.refresh_from_db()
    order = Order.objects.get(pk=refund.order_id)
    return (
        refund.status == Refund.Status.PROCESSING
        and order.refunded_fen == 0
        and not OrderEvent.objects.filter(order=order, kind__in=["refunded", "refund_failed"]).exists()
    )


@pytest.mark.parametrize("status", ["SUCCESS", "CLOSED"])
def test_a_refund_notification_naming_another_payment_is_refused(client, two_refunds, caplog, status):
    mine, other = two_refunds
    with caplog.at_level("WARNING"):
        response = post(
            client, REFUND_NOTIFY, *_refund_notification(mine, payment=other.payment, status=status)
        )
    assert refused(response)
    assert "out_trade_no, transaction_id differ" in caplog.text
    assert _unchanged(mine) and _unchanged(other)


def test_a_refund_notification_with_only_the_transaction_id_of_another_payment_is_refused(
    client, two_refunds
):
    mine, other = two_refunds
    headers, body = build_refund_notification(
        out_refund_no=mine.out_refund_no,
        refund_id="5030000000000000000000000009",
        out_trade_no=mine.payment.out_trade_no,
        transaction_id=other.payment.transaction_id,
        amount_fen=mine.amount_fen,
        total_fen=mine.payment.amount_fen,
    )
    assert refused(post(client, REFUND_NOTIFY, headers, body))
    assert _unchanged(mine)


@pytest.mark.parametrize("status", ["SUCCESS", "CLOSED"])
def test_a_refund_notification_with_another_refunds_amount_is_refused(client, two_refunds, status):
    mine, other = two_refunds
    response = post(
        client, REFUND_NOTIFY, *_refund_notification(mine, amount_fen=other.amount_fen, status=status)
    )
    assert refused(response)
    assert _unchanged(mine)


def test_a_refund_notification_with_another_provider_refund_id_is_refused(client, two_refunds):
    mine, _other = two_refunds
    Refund.objects.filter(pk=mine.pk).update(refund_id="5030000000000000000000000001")
    mine.refresh_from_db()
    response = post(
        client, REFUND_NOTIFY, *_refund_notification(mine, refund_id="5030000000000000000000000002")
    )
    assert refused(response)
    assert _unchanged(mine)


def test_the_matching_refund_notification_is_accepted(client, two_refunds):
    mine, other = two_refunds
    assert post(client, REFUND_NOTIFY, *_refund_notification(mine)).status_code == 204
    mine.refresh_from_db()
    assert mine.status == Refund.Status.SUCCEEDED
    assert Order.objects.get(pk=mine.order_id).refunded_fen == mine.amount_fen
    assert _unchanged(other)
