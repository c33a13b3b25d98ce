"""Factories and helpers for the order flow: addresses, placed orders, paid orders, eager Celery.

Orders are made through the real services (checkout_place, payment_record_success, order_ship...),
so a test's starting state is one the shop itself can reach.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from shop.models import Order, Payment
from shop.payments.base import PaymentNotification
from shop.services.checkout import checkout_place
from shop.services.orders import order_confirm_receipt, order_ship
from shop.services.payments import payment_record_success
from tests.factories import AddressFactory, UserFactory
from tests.shop.factories import ProductFactory, SKUFactory


@pytest.fixture
def celery_eager():
    """Run Celery tasks in-process when queued (they are queued on commit), then restore."""
    from config.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
    # An eager task marks the process "inside a task" in a global flag (so .get() refuses) and puts
    # back the value it found when it ends. Eager tasks run by several threads at once (the race
    # tests) can put back each other's True and leave it set, failing every later .get(): reset it.
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


def make_buyer(**kwargs):
    buyer = UserFactory(**kwargs)
    AddressFactory(user=buyer)
    return buyer


def make_sku(*, shop=None, price_fen=1000, stock=100, title=None, **kwargs):
    product_kwargs = {"shop": shop} if shop else {}
    if title:
        product_kwargs["title"] = title
    return SKUFactory(product=ProductFactory(**product_kwargs), price_fen=price_fen, stock=stock, **kwargs)


def place_order(*, buyer=None, sku=None, quantity=1, items=None) -> Order:
    buyer = buyer or make_buyer()
    if not buyer.addresses.exists():
        AddressFactory(user=buyer)
    sku = sku or make_sku()
    orders = checkout_place(
        buyer=buyer, address_id=buyer.addresses.first().pk, items=items or [(sku.pk, quantity)]
    )
    return orders[0]


def open_payment(order: Order) -> Payment:
    """The payment row payment_start would write, without calling the provider."""
    return Payment.objects.create(
        order=order,
        provider="wechatpay",
        out_trade_no=f"T{uuid.uuid4().hex[:24]}",
        amount_fen=order.total_fen,
    )


def success_notification(payment: Payment, *, transaction_id=None, amount_fen=None) -> PaymentNotification:
    return PaymentNotification(
        out_trade_no=payment.out_trade_no,
        transaction_id=transaction_id or f"42{uuid.uuid4().int % 10**26:026d}",
        amount_fen=payment.amount_fen if amount_fen is None else amount_fen,
        payer_total_fen=payment.amount_fen if amount_fen is None else amount_fen,
        trade_state="SUCCESS",
        success_time=timezone.now(),
        payer_openid="o-test-openid",
        raw={},
    )


def pay_order(order: Order) -> Order:
    """Pay through the notification service with a verified-notification object (provider parsing
    is exercised by the notify endpoint tests against the sandbox)."""
    payment_record_success(notification=success_notification(open_payment(order)))
    order.refresh_from_db()
    return order


def ship_order(order: Order, *, actor=None) -> Order:
    order = order_ship(
        order_id=order.pk, actor=actor or order.shop.owner, carrier="顺丰速运", tracking_number="SF1234567890"
    )
    order.refresh_from_db()
    return order


def receive_order(order: Order, *, days_ago: int = 0) -> Order:
    order_confirm_receipt(order_id=order.pk, buyer=order.buyer)
    if days_ago:
        Order.objects.filter(pk=order.pk).update(received_at=timezone.now() - timedelta(days=days_ago))
    order.refresh_from_db()
    return order
