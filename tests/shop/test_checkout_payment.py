"""One payment per checkout (issue 7): a checkout across shops is paid once, in one cashier trip,
as a WeChat Pay v3 combined payment (合单支付) played by the sandbox over real HTTP: signed requests
and answers, one cashier page, one signed and encrypted notification naming every sub-order. Each
order becomes paid through the notification handler (still the only path to paid), idempotently,
with each sub-order's amount checked; refunds stay per order."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from shop.models import Order, OrderEvent, Payment, Refund
from shop.payments.sandbox import state as sandbox_state
from shop.payments.sandbox.notify import build_combined_notification
from shop.payments.sandbox.state import SandboxError
from shop.services.checkout import checkout_place
from shop.services.orders import order_cancel, orders_cancel_overdue
from shop.services.payments import payment_start, refund_create
from tests.shop.factories import ShopFactory
from tests.shop.order_factories import celery_eager, make_buyer, make_sku  # noqa: F401
from tests.shop.test_payment_flow import NOTIFY, REFUND_NOTIFY, post_notification

pytestmark = pytest.mark.django_db


def checkout_across(shops: int, *, buyer=None) -> list[Order]:
    buyer = buyer or make_buyer()
    items = [(make_sku(shop=ShopFactory(), price_fen=1000 * (n + 1), stock=5).pk, 1) for n in range(shops)]
    return checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=items)


def start(order):
    return payment_start(order_id=order.pk, buyer=order.buyer, client_ip="10.0.0.8", return_url="")


@pytest.mark.usefixtures("celery_eager")
def test_a_three_shop_checkout_is_paid_once_and_every_order_becomes_paid(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    orders = checkout_across(3)
    result = start(orders[1])  # from any of its orders
    payments = list(Payment.objects.order_by("order_id"))
    assert [p.order_id for p in payments] == [o.pk for o in orders]
    assert len({p.combine_out_trade_no for p in payments}) == 1 and payments[0].combine_out_trade_no
    assert {p.prepay_id for p in payments} == {result.prepay_id}
    assert [p.amount_fen for p in payments] == [1000, 2000, 3000]
    cashier = wechatpay_sandbox.transaction(result.prepay_id)
    assert cashier["kind"] == "combined" and cashier["amount_fen"] == 6000

    headers, body = wechatpay_sandbox.confirm(result.prepay_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, NOTIFY, headers, body).status_code == 204
    for order in orders:
        order.refresh_from_db()
        assert order.status == Order.Status.PAID and order.paid_at
    payments = list(Payment.objects.order_by("order_id"))
    assert all(p.status == Payment.Status.SUCCEEDED for p in payments)
    assert len({p.transaction_id for p in payments}) == 3  # each sub-order its own transaction
    assert OrderEvent.objects.filter(kind="paid").count() == 3
    for order in orders:
        assert Notification.objects.filter(user=order.shop.owner, kind="order_paid").count() == 1

    # WeChat delivers again: accepted, nothing changes.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert post_notification(client, NOTIFY, headers, body).status_code == 204
    assert callbacks == [] and OrderEvent.objects.filter(kind="paid").count() == 3

    # Refunds stay per order: one order's money goes back, the others' is untouched.
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        refund = refund_create(order=orders[1], payment=payments[1], amount_fen=2000, reason="不要了")
    refund.refresh_from_db()
    assert refund.refund_id
    headers, body = wechatpay_sandbox.refund_notification(refund.out_refund_no)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, REFUND_NOTIFY, headers, body).status_code == 204
    assert [o.refunded_fen for o in Order.objects.order_by("pk")] == [0, 2000, 0]


def test_starting_twice_or_from_another_order_reuses_the_same_payment(wechatpay_sandbox):
    orders = checkout_across(2)
    first = start(orders[0])
    again = start(orders[1])
    assert first.prepay_id == again.prepay_id
    assert Payment.objects.count() == 2


def test_a_wrong_amount_on_one_sub_order_refuses_the_whole_notification(client, wechatpay_sandbox):
    orders = checkout_across(2)
    result = start(orders[0])
    wechatpay_sandbox.confirm(result.prepay_id)
    content = sandbox_state.combined_as_json(wechatpay_sandbox.transaction(result.prepay_id))
    content["sub_orders"][1]["amount"]["total_amount"] -= 1
    headers, body = build_combined_notification(content)
    response = post_notification(client, NOTIFY, headers, body)
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert not Order.objects.filter(status=Order.Status.PAID).exists()
    assert not Payment.objects.filter(status=Payment.Status.SUCCEEDED).exists()


def test_a_sub_order_of_another_combined_payment_is_refused(client, wechatpay_sandbox):
    mine, theirs = checkout_across(2), checkout_across(2)
    start(theirs[0])
    result = start(mine[0])
    wechatpay_sandbox.confirm(result.prepay_id)
    content = sandbox_state.combined_as_json(wechatpay_sandbox.transaction(result.prepay_id))
    content["sub_orders"][1]["out_trade_no"] = Payment.objects.get(order=theirs[1]).out_trade_no
    headers, body = build_combined_notification(content)
    assert post_notification(client, NOTIFY, headers, body).status_code == 400
    assert not Payment.objects.filter(status=Payment.Status.SUCCEEDED).exists()


@pytest.mark.usefixtures("celery_eager")
def test_cancelling_one_order_closes_the_combined_payment_and_the_rest_is_paid_alone(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    orders = checkout_across(2)
    first = start(orders[0])
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=orders[0].pk, buyer=orders[0].buyer)
    assert set(Payment.objects.values_list("status", flat=True)) == {Payment.Status.CLOSED}
    with pytest.raises(SandboxError):
        wechatpay_sandbox.confirm(first.prepay_id)
    second = start(orders[1])
    payment = Payment.objects.get(order=orders[1], status=Payment.Status.CREATED)
    assert payment.combine_out_trade_no == "" and second.prepay_id != first.prepay_id
    headers, body = wechatpay_sandbox.confirm(second.prepay_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, NOTIFY, headers, body).status_code == 204
    assert Order.objects.get(pk=orders[1].pk).status == Order.Status.PAID


@pytest.mark.usefixtures("celery_eager")
def test_a_late_combined_notification_does_not_lose_the_orders_to_the_cancel_job(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    orders = checkout_across(3)
    result = start(orders[0])
    headers, body = wechatpay_sandbox.confirm(result.prepay_id)  # paid; the notification is late
    Order.objects.update(payment_deadline=timezone.now() - timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_cancel_overdue() == 0
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.PAID}
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, NOTIFY, headers, body).status_code == 204
    assert OrderEvent.objects.filter(kind="paid").count() == 3 and not Refund.objects.exists()


def _notification_queries(client, shops: int, django_capture_on_commit_callbacks) -> int:
    orders = checkout_across(shops)
    result = start(orders[0])
    headers, body = sandbox_state.payment_notification(sandbox_state.transaction_confirm(result.prepay_id)[0])
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, NOTIFY, headers, body).status_code == 204
    assert Order.objects.filter(pk__in=[o.pk for o in orders], status=Order.Status.PAID).count() == shops
    return len(queries)


def test_paying_a_checkout_costs_the_same_queries_whatever_the_number_of_shops(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    two = _notification_queries(client, 2, django_capture_on_commit_callbacks)
    five = _notification_queries(client, 5, django_capture_on_commit_callbacks)
    # One read, the savepoint of the test's transaction (2), the orders and payments locked, one
    # UPDATE of the payments, of the orders and of the sales counts, one INSERT of the events, one
    # read of the merchants to tell and one INSERT into the outbox (notices and announcement).
    assert two == five <= 11


# --- Pages and API --------------------------------------------------------------------------------


def test_checkout_across_shops_goes_to_one_pay_page_and_one_cashier(client, wechatpay_sandbox):
    buyer = make_buyer()
    client.force_login(buyer)
    for price in (1000, 2500):
        client.post(reverse("shop:cart-add"), {"sku_id": make_sku(shop=ShopFactory(), price_fen=price).pk})
    page = client.get(reverse("shop:checkout"))
    response = client.post(
        reverse("shop:checkout"),
        {"address_id": buyer.addresses.get().pk, "checkout_id": page.context["form"]["checkout_id"].value()},
    )
    first = Order.objects.order_by("pk").first()
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:order-pay", args=[first.number])
    html = client.get(response["Location"]).content.decode()
    assert 'data-testid="paid-together"' in html and "¥35.00" in html
    for order in Order.objects.all():
        assert order.number in html
    response = client.post(reverse("shop:order-pay", args=[first.number]))
    assert response.status_code == 302 and "/sandbox/wechatpay/pay/" in response["Location"]
    assert Payment.objects.count() == 2 and len(set(Payment.objects.values_list("prepay_id", flat=True))) == 1


def test_the_api_pays_the_whole_checkout_from_any_of_its_orders(wechatpay_sandbox):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    orders = checkout_across(2)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=orders[0].buyer)[0].key}")
    response = api.post(f"/api/v1/orders/{orders[1].number}/pay/", {}, format="json")
    assert response.status_code in (200, 201), response.content
    prepay_id = json.loads(response.content)["prepay_id"]
    assert wechatpay_sandbox.transaction(prepay_id)["amount_fen"] == 3000
    assert set(Payment.objects.values_list("prepay_id", flat=True)) == {prepay_id}


@pytest.mark.usefixtures("celery_eager")
def test_a_single_notification_for_an_unpaid_combined_sub_order_is_refused(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    """A sub-order of a combined payment is reported paid only by the combined notification; a single
    one naming it is checked against the combined payment at the provider, which says unpaid."""
    from shop.payments.sandbox.notify import build_payment_notification

    orders = checkout_across(2)
    start(orders[0])
    payment = Payment.objects.get(order=orders[0])
    headers, body = build_payment_notification(
        out_trade_no=payment.out_trade_no, transaction_id="4200000000000000000001", amount_fen=1000
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_notification(client, NOTIFY, headers, body)
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert not Payment.objects.filter(status=Payment.Status.SUCCEEDED).exists()
    assert not Order.objects.filter(status=Order.Status.PAID).exists()


@pytest.mark.usefixtures("celery_eager")
def test_a_single_notification_for_a_paid_combined_sub_order_records_the_combined_payment(
    client, wechatpay_sandbox, django_capture_on_commit_callbacks
):
    """The buyer did pay: the single notification only wakes us; what is recorded is the provider's
    answer for the combined payment (every sub-order, with the provider's transaction ids)."""
    from shop.payments.sandbox.notify import build_payment_notification

    orders = checkout_across(2)
    result = start(orders[0])
    wechatpay_sandbox.confirm(result.prepay_id)  # paid at the provider; its notification is lost
    payment = Payment.objects.get(order=orders[0])
    headers, body = build_payment_notification(
        out_trade_no=payment.out_trade_no, transaction_id="4200000000000000000009", amount_fen=1000
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_notification(client, NOTIFY, headers, body).status_code == 204
    payments = list(Payment.objects.order_by("order_id"))
    assert [p.status for p in payments] == [Payment.Status.SUCCEEDED] * 2
    provider_ids = [sandbox_state.transaction_get(p.out_trade_no)["transaction_id"] for p in payments]
    assert [p.transaction_id for p in payments] == provider_ids
    assert "4200000000000000000009" not in provider_ids
    assert [o.status for o in Order.objects.order_by("pk")] == [Order.Status.PAID] * 2


def test_the_admin_shows_and_finds_an_order_by_its_combined_payment_number(client, wechatpay_sandbox):
    orders = checkout_across(2)
    start(orders[0])
    mine = Payment.objects.get(order=orders[0])
    assert mine.combine_out_trade_no
    owner = orders[0].shop.owner
    client.force_login(owner)
    page = client.get(reverse("admin:shop_order_change", args=[orders[0].pk])).content.decode()
    assert mine.combine_out_trade_no in page
    listed = client.get(reverse("admin:shop_order_changelist"), {"q": mine.combine_out_trade_no})
    numbers = [order.number for order in listed.context["cl"].result_list]
    assert numbers == [orders[0].number]  # the other shop's order in the same payment stays hidden
    listed = client.get(reverse("admin:shop_order_changelist"), {"q": mine.out_trade_no})
    assert [order.number for order in listed.context["cl"].result_list] == [orders[0].number]
