"""The order state machine: every transition checks the state, logs an event, sends its signal once,
and changes nothing the second time; steps out of order are refused with nothing changed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shop import signals
from shop.models import SKU, Order, OrderEvent
from shop.services.errors import InvalidTransition, OrderNotFound
from shop.services.orders import order_cancel, order_complete, order_confirm_receipt, order_ship
from tests.shop.factories import ShopMembershipFactory
from tests.shop.order_factories import (  # noqa: F401
    celery_eager,
    make_buyer,
    make_sku,
    pay_order,
    place_order,
    receive_order,
    ship_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def received_signals():
    seen = []

    def make(name):
        def receiver(sender, order, **kwargs):
            seen.append((name, order.pk))

        return receiver

    receivers = {
        name: make(name) for name in ["placed", "paid", "cancelled", "shipped", "received", "completed"]
    }
    for name, receiver in receivers.items():
        getattr(signals, f"order_{name}").connect(receiver, weak=False)
    yield seen
    for name, receiver in receivers.items():
        getattr(signals, f"order_{name}").disconnect(receiver)


def _events(order):
    return list(OrderEvent.objects.filter(order=order).values_list("kind", "from_status", "to_status"))


@pytest.mark.usefixtures("celery_eager")
def test_full_happy_path_logs_each_transition_and_sends_each_signal_once(
    received_signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        pay_order(order)
    with django_capture_on_commit_callbacks(execute=True):
        ship_order(order)
    with django_capture_on_commit_callbacks(execute=True):
        receive_order(order, days_ago=8)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_complete(order_id=order.pk)
    assert order.status == Order.Status.COMPLETED and order.completed_at
    assert _events(order) == [
        ("placed", "", "pending_payment"),
        ("paid", "pending_payment", "paid"),
        ("shipped", "paid", "shipped"),
        ("received", "shipped", "received"),
        ("completed", "received", "completed"),
    ]
    assert [name for name, pk in received_signals] == ["placed", "paid", "shipped", "received", "completed"]
    order.lines.get().product.refresh_from_db()
    assert order.lines.get().product.sales_count == 2


def test_repeating_a_transition_changes_nothing_and_sends_nothing(
    received_signals, django_capture_on_commit_callbacks
):
    order = pay_order(place_order())
    ship_order(order)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = order_ship(
            order_id=order.pk, actor=order.shop.owner, carrier="顺丰速运", tracking_number="SF1234567890"
        )
    assert again.status == Order.Status.SHIPPED
    assert callbacks == [] and received_signals == []
    assert OrderEvent.objects.filter(order=order, kind="shipped").count() == 1
    receive_order(order)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order_confirm_receipt(order_id=order.pk, buyer=order.buyer)
    assert callbacks == []
    assert OrderEvent.objects.filter(order=order, kind="received").count() == 1


def test_shipping_an_unpaid_order_is_refused_and_changes_nothing():
    order = place_order()
    with pytest.raises(InvalidTransition):
        order_ship(order_id=order.pk, actor=order.shop.owner, carrier="顺丰", tracking_number="SF1")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and order.tracking_number == ""
    assert _events(order) == [("placed", "", "pending_payment")]


@pytest.mark.parametrize(
    "setup,step",
    [
        ("pending", "receive"),
        ("pending", "complete"),
        ("paid", "cancel"),
        ("paid", "receive"),
        ("shipped", "cancel"),
        ("shipped", "complete"),
        ("cancelled", "ship"),
        ("cancelled", "receive"),
        ("received_recently", "complete"),
        ("received", "ship"),
    ],
)
def test_steps_out_of_order_are_refused(setup, step):
    order = place_order()
    if setup in ("paid", "shipped", "received", "received_recently"):
        pay_order(order)
    if setup in ("shipped", "received", "received_recently"):
        ship_order(order)
    if setup in ("received", "received_recently"):
        receive_order(order, days_ago=1 if setup == "received_recently" else 0)
    if setup == "cancelled":
        order_cancel(order_id=order.pk, buyer=order.buyer)
    order.refresh_from_db()
    before = (order.status, len(_events(order)))
    actions = {
        "ship": lambda: order_ship(order_id=order.pk, actor=None, carrier="EMS", tracking_number="E1"),
        "receive": lambda: order_confirm_receipt(order_id=order.pk, buyer=order.buyer),
        "complete": lambda: order_complete(order_id=order.pk),
        "cancel": lambda: order_cancel(order_id=order.pk, buyer=order.buyer),
    }
    with pytest.raises(InvalidTransition):
        actions[step]()
    order.refresh_from_db()
    assert (order.status, len(_events(order))) == before


def test_cancel_returns_stock_once():
    sku = make_sku(stock=5)
    order = place_order(sku=sku, quantity=3)
    order_cancel(order_id=order.pk, buyer=order.buyer)
    order_cancel(order_id=order.pk, buyer=order.buyer)
    sku.refresh_from_db()
    assert sku.stock == 5
    assert OrderEvent.objects.filter(order=order, kind="cancelled").count() == 1


def test_others_cannot_touch_an_order():
    order = place_order()
    stranger = make_buyer()
    with pytest.raises(OrderNotFound):
        order_cancel(order_id=order.pk, buyer=stranger)
    pay_order(order)
    with pytest.raises(OrderNotFound):
        order_ship(order_id=order.pk, actor=stranger, carrier="EMS", tracking_number="1", shop_ids=[])
    staff_elsewhere = ShopMembershipFactory().user
    from shop.selectors.orders import managed_shop_ids

    with pytest.raises(OrderNotFound):
        order_ship(
            order_id=order.pk,
            actor=staff_elsewhere,
            carrier="EMS",
            tracking_number="1",
            shop_ids=managed_shop_ids(staff_elsewhere),
        )


def test_ship_needs_carrier_and_tracking_number():
    from config.exceptions import DomainError

    order = pay_order(place_order())
    with pytest.raises(DomainError) as error:
        order_ship(order_id=order.pk, actor=None, carrier="顺丰", tracking_number=" ")
    assert error.value.field == "tracking_number"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_stock_is_never_negative_even_if_a_caller_bypasses_the_check():
    from django.db import IntegrityError, transaction

    sku = make_sku(stock=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        SKU.objects.filter(pk=sku.pk).update(stock=-1)


def test_completion_waits_for_the_window():
    order = receive_order(ship_order(pay_order(place_order())))
    Order.objects.filter(pk=order.pk).update(received_at=timezone.now() - timedelta(days=6, hours=23))
    with pytest.raises(InvalidTransition):
        order_complete(order_id=order.pk)
