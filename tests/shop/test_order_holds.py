"""What holds an order back: no shipping while a refund is processing or an after-sales request is
open (defect 7), and the completion job re-checks for an after-sales request under its lock."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shop.models import AfterSalesRequest, Order
from shop.services.aftersales import after_sales_create, after_sales_reject
from shop.services.errors import InvalidTransition
from shop.services.orders import _complete_batch, order_ship
from shop.services.refunds import order_refund
from tests.shop.order_factories import make_sku, pay_order, place_order, receive_order, ship_order

pytestmark = pytest.mark.django_db


def _paid():
    return pay_order(place_order(sku=make_sku(price_fen=1000, stock=10), quantity=2))


def _ship(order):
    return order_ship(order_id=order.pk, actor=order.shop.owner, carrier="顺丰速运", tracking_number="SF9")


def test_shipping_is_refused_while_a_refund_is_processing(django_capture_on_commit_callbacks):
    order = _paid()
    with django_capture_on_commit_callbacks(execute=False):  # the provider has not answered yet
        order_refund(order_id=order.pk, actor=order.shop.owner, reason="少一件", amount_fen=500)
    with pytest.raises(InvalidTransition) as refused:
        _ship(order)
    assert "退款正在处理" in str(refused.value.message)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and not order.tracking_number


def test_shipping_is_refused_while_an_after_sales_request_is_open_and_allowed_once_decided():
    order = _paid()
    request = after_sales_create(
        buyer=order.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        quantity=1,
        reason="不想要了",
    )
    with pytest.raises(InvalidTransition) as refused:
        _ship(order)
    assert "售后申请" in str(refused.value.message)
    after_sales_reject(request_id=request.pk, actor=order.shop.owner, note="已发货中")
    assert _ship(order).status == Order.Status.SHIPPED


def test_the_completion_step_rechecks_for_an_open_request_under_its_lock():
    """The batch query reads an earlier snapshot than its lock; a request opened just before the
    lock must still hold completion back, so the step itself checks again."""
    order = receive_order(ship_order(_paid()))
    after_sales_create(
        buyer=order.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        quantity=1,
        reason="坏了",
    )
    Order.objects.filter(pk=order.pk).update(received_at=timezone.now() - timedelta(days=30))
    assert AfterSalesRequest.objects.filter(order=order, status="open").exists()
    assert _complete_batch([order.pk], now=timezone.now()) == []
    order.refresh_from_db()
    assert order.status == Order.Status.RECEIVED
