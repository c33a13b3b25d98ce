"""One announcer for order changes (shop.services.announce) over the outbox (outbox/services.py):
recorded in the change's own transaction, each receiver delivered on its own, a failing receiver
retried without stopping the others or failing the request, every effect once."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from outbox.models import Message
from outbox.services import outbox_deliver, outbox_relay_due
from shop import signals
from shop.models import Order
from shop.services.announce import order_announce
from shop.services.checkout import checkout_place
from tests.shop.order_factories import celery_eager, make_buyer, make_sku, place_order  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def receivers():
    """A receiver that records, and one that fails until told to work."""
    seen, state = [], {"broken": True}

    def recorder(sender, order, **kwargs):
        seen.append(order.pk)

    def flaky(sender, order, **kwargs):
        if state["broken"]:
            raise RuntimeError("receiver down")
        seen.append(("flaky", order.pk))

    signals.order_placed.connect(recorder, weak=False)
    signals.order_placed.connect(flaky, weak=False)
    yield seen, state
    signals.order_placed.disconnect(recorder)
    signals.order_placed.disconnect(flaky)


def _messages(name):
    return Message.objects.filter(payload__receiver__endswith=name)


@pytest.mark.usefixtures("celery_eager")
def test_a_failing_receiver_fails_neither_the_checkout_nor_the_others_and_is_retried_once(
    receivers, django_capture_on_commit_callbacks
):
    seen, state = receivers
    buyer, sku = make_buyer(), make_sku(stock=5)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=buyer).key}")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/checkout/buy-now/",
            {"sku_id": sku.pk, "address_id": buyer.addresses.get().pk, "checkout_id": str(uuid.uuid4())},
            format="json",
        )
    assert response.status_code == 201
    order = Order.objects.get(number=response.json()["number"])
    assert seen == [order.pk]  # the other receivers ran
    catalog = _messages("catalog_cache_follows_orders").get()
    assert catalog.done_at is not None
    failed = _messages("flaky").get()
    assert failed.done_at is None and failed.attempts == 1 and "receiver down" in failed.last_error
    assert failed.due_at > timezone.now()  # backoff: the sweep leaves it alone until then

    assert outbox_relay_due() == 0
    state["broken"] = False
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_relay_due(now=timezone.now() + timedelta(hours=2)) == 1
    assert seen == [order.pk, ("flaky", order.pk)]  # the recorder was not called again
    failed.refresh_from_db()
    assert failed.done_at is not None and failed.attempts == 2
    # Relayed again (a duplicate from the broker, a second sweep): nothing runs twice.
    assert outbox_deliver(message_id=failed.pk) is False
    assert outbox_deliver(message_id=catalog.pk) is False
    assert seen == [order.pk, ("flaky", order.pk)]


def test_announcing_records_one_message_per_receiver_in_the_same_transaction(receivers):
    order = place_order()
    before = Message.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        order_announce(signals.order_placed, orders=[order])
        raise RuntimeError("rolled back")
    assert Message.objects.count() == before  # no change, no announcement
    with transaction.atomic():
        order_announce(signals.order_placed, order_ids=[order.pk])
    added = Message.objects.order_by("-pk")[: len(signals.order_placed._live_receivers(Order)[0])]
    assert {message.payload["receiver"].rsplit(".", 1)[-1] for message in added} >= {
        "recorder",
        "flaky",
        "catalog_cache_follows_orders",
    }
    assert all(message.payload["order_ids"] == [order.pk] for message in added)


def test_the_checkout_records_its_announcement_with_its_events_in_one_statement(receivers):
    buyer, sku = make_buyer(), make_sku(stock=5)
    address_id = buyer.addresses.get().pk
    with CaptureQueriesContext(connection) as captured:
        orders = checkout_place(buyer=buyer, address_id=address_id, items=[(sku.pk, 1)])
    with connection.cursor() as cursor:  # statements run prepared: EXECUTE <name>(...) stands for their text
        cursor.execute("SELECT name, statement FROM pg_prepared_statements")
        prepared = dict(cursor.fetchall())
    statements = [
        prepared.get(q["sql"][len("EXECUTE ") :].split("(", 1)[0], q["sql"])
        for q in captured
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    # The address with the SKUs (and the order's id drawn), the checkout line hooks (affiliates'
    # attribution lookup), then the order, its lines, events, outbox messages and the stock of the
    # one SKU together.
    assert len(statements) == 3, "\n".join(sql[:100] for sql in statements)
    (last,) = [sql for sql in statements if 'INSERT INTO "outbox_message"' in sql]
    for part in ('INSERT INTO "shop_order" ', 'INSERT INTO "shop_orderline"', 'UPDATE "shop_sku"'):
        assert part in last
    assert _messages("recorder").get().payload["order_ids"] == [orders[0].pk]


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_one_message_run_its_receiver_once():
    inside, release, calls = threading.Event(), threading.Event(), []

    def slow(sender, order, **kwargs):
        calls.append(order.pk)
        inside.set()
        assert release.wait(10)

    signals.order_paid.connect(slow, weak=False)
    try:
        order = place_order()
        with transaction.atomic():
            order_announce(signals.order_paid, orders=[order])
        message = _messages("slow").get()
        results = []

        def deliver():
            try:
                results.append(outbox_deliver(message_id=message.pk))
            finally:
                connection.close()

        first = threading.Thread(target=deliver)
        first.start()
        assert inside.wait(10)
        assert outbox_deliver(message_id=message.pk) is False  # held by the first worker
        release.set()
        first.join()
    finally:
        signals.order_paid.disconnect(slow)
    assert results == [True] and calls == [order.pk]
    message.refresh_from_db()
    assert message.done_at is not None
    assert outbox_deliver(message_id=message.pk) is False


def test_the_sweep_skips_what_is_not_due_and_purging_keeps_a_week_of_done_rows():
    from outbox.services import outbox_enqueue, outbox_purge_done

    with transaction.atomic():
        waiting = outbox_enqueue(handler="accounts.services.notification_deliver", payload={"user_id": 0})
    old = Message.objects.create(
        handler="x", due_at=timezone.now(), done_at=timezone.now() - timedelta(days=8)
    )
    recent = Message.objects.create(handler="x", due_at=timezone.now(), done_at=timezone.now())
    assert outbox_relay_due() == 0  # inside its grace period: the commit's own relay has it
    assert outbox_purge_done() == 1
    assert set(Message.objects.values_list("pk", flat=True)) >= {waiting.pk, recent.pk}
    assert not Message.objects.filter(pk=old.pk).exists()
