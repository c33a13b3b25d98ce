"""The beat jobs: each one run (through Celery's own task machinery, `apply`) does its work once;
run again it changes nothing. Concurrent runs in two workers are in tests/load/test_jobs_concurrency.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Notification
from shop import signals
from shop.models import SKU, Cart, CartLine, Order, OrderEvent
from shop.services.cart import cart_add, cart_get_or_create
from shop.tasks import auto_receive_orders, cancel_unpaid_orders, clear_stale_carts, complete_orders
from tests.shop.order_factories import (
    celery_eager,  # noqa: F401
    make_sku,
    pay_order,
    place_order,
    receive_order,
    ship_order,
)  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    seen = []

    def receiver(sender, order, signal, **kwargs):
        seen.append((signal, order.pk))

    names = ["order_cancelled", "order_received", "order_completed"]
    for name in names:
        getattr(signals, name).connect(receiver)
    yield seen
    for name in names:
        getattr(signals, name).disconnect(receiver)


def run_twice(task, capture):
    with capture(execute=True):
        first = task.apply().get()
    with capture(execute=True) as callbacks:
        second = task.apply().get()
    return first, second, callbacks


@pytest.mark.usefixtures("celery_eager")
def test_cancel_unpaid_orders_returns_stock_tells_the_buyer_once(sent, django_capture_on_commit_callbacks):
    sku = make_sku(stock=10)
    overdue = [place_order(sku=sku, quantity=2) for _ in range(3)]
    fresh = place_order(sku=sku, quantity=1)
    paid = pay_order(place_order(sku=sku, quantity=1))
    Order.objects.filter(pk__in=[o.pk for o in overdue] + [paid.pk]).update(
        payment_deadline=timezone.now() - timedelta(minutes=1)
    )
    first, second, callbacks = run_twice(cancel_unpaid_orders, django_capture_on_commit_callbacks)
    assert (first, second, callbacks) == (3, 0, [])
    assert set(Order.objects.filter(status="cancelled").values_list("pk", flat=True)) == {
        o.pk for o in overdue
    }
    assert Order.objects.get(pk=fresh.pk).status == "pending_payment"
    assert Order.objects.get(pk=paid.pk).status == "paid"
    assert SKU.objects.get(pk=sku.pk).stock == 10 - 1 - 1
    assert OrderEvent.objects.filter(kind="cancelled").count() == 3
    assert Notification.objects.filter(kind="order_cancelled").count() == 3
    assert sorted(pk for _, pk in sent) == sorted(o.pk for o in overdue)


@pytest.mark.usefixtures("celery_eager")
def test_auto_receive_after_the_days(settings, sent, django_capture_on_commit_callbacks):
    settings.AUTO_RECEIVE_DAYS = 10
    old = ship_order(pay_order(place_order()))
    recent = ship_order(pay_order(place_order()))
    Order.objects.filter(pk=old.pk).update(shipped_at=timezone.now() - timedelta(days=10, minutes=1))
    first, second, callbacks = run_twice(auto_receive_orders, django_capture_on_commit_callbacks)
    assert (first, second, callbacks) == (1, 0, [])
    old.refresh_from_db(), recent.refresh_from_db()
    assert old.status == "received" and old.received_at and recent.status == "shipped"
    assert [pk for _, pk in sent] == [old.pk]
    assert OrderEvent.objects.filter(order=old, kind="received", from_status="shipped").count() == 1


@pytest.mark.usefixtures("celery_eager")
def test_complete_after_the_window(settings, sent, django_capture_on_commit_callbacks):
    settings.AFTER_SALES_DAYS = 7
    due = receive_order(ship_order(pay_order(place_order())), days_ago=8)
    not_yet = receive_order(ship_order(pay_order(place_order())), days_ago=6)
    first, second, callbacks = run_twice(complete_orders, django_capture_on_commit_callbacks)
    assert (first, second, callbacks) == (1, 0, [])
    due.refresh_from_db(), not_yet.refresh_from_db()
    assert due.status == "completed" and not_yet.status == "received"
    # (The run woken on commit also delivers the earlier order_received announcements, which this
    # test's setup left undelivered: it delivers every message not tried yet.)
    assert [pk for signal, pk in sent if signal is signals.order_completed] == [due.pk]


def test_clear_stale_carts_only_old_anonymous_ones(shopper):
    old = cart_get_or_create(session_key="a" * 32)
    cart_add(cart=old, sku_id=make_sku().pk, quantity=1)
    new = cart_get_or_create(session_key="b" * 32)
    mine = cart_get_or_create(user=shopper)
    Cart.objects.filter(pk__in=[old.pk, mine.pk]).update(updated_at=timezone.now() - timedelta(days=40))
    assert clear_stale_carts.apply().get() == 1
    assert clear_stale_carts.apply().get() == 0
    assert set(Cart.objects.values_list("pk", flat=True)) == {new.pk, mine.pk}
    assert not CartLine.objects.filter(cart_id=old.pk).exists()
