"""The relay on commit publishes from a background thread (outbox/relay.py): the ids of several
commits leave in one task message on the real Redis broker; a checkout's request does not publish
itself; in eager mode the caller's thread publishes at once."""

import base64
import json
import random
import threading

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from config.celery import app
from outbox import relay
from outbox.relay import outbox_publish_soon, outbox_relay_flush
from outbox.services import outbox_relay_on_commit


def _deliver_messages_carrying(ids: set[int]) -> list[list[int]]:
    """The id lists of the `outbox.tasks.deliver` messages waiting on the broker that carry any of
    `ids`; those messages are taken off the queue (no worker of another test gets them)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = app.conf.task_default_queue
    found = []
    for raw in reversed(broker.lrange(queue, 0, -1)):  # LPUSHed: oldest last
        envelope = json.loads(raw)
        if envelope["headers"].get("task") != "outbox.tasks.deliver":
            continue
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        if ids & set(args[0]):
            found.append(args[0])
            broker.lrem(queue, 1, raw)
    return found


def _fresh_ids(n: int) -> list[int]:
    start = random.randint(10**12, 10**13)  # no real message has such an id
    return list(range(start, start + n))


@override_settings(OUTBOX_RELAY_LINGER_MS=150)
def test_ids_handed_over_together_leave_in_one_publish_from_another_thread():
    first, second, third = _fresh_ids(1), _fresh_ids(2), _fresh_ids(3)
    callers = []

    def hand_over(ids):
        callers.append(threading.get_ident())
        outbox_publish_soon(ids)

    for ids in (first, second, third):
        hand_over(ids)
    assert outbox_relay_flush(timeout=5)
    published = _deliver_messages_carrying(set(first + second + third))
    assert published == [first + second + third]
    assert relay._relay._thread.ident not in callers


@override_settings(OUTBOX_RELAY_LINGER_MS=0)
def test_ids_handed_over_after_a_publish_go_in_the_next_one():
    before, after = _fresh_ids(2), _fresh_ids(2)
    outbox_publish_soon(before)
    assert outbox_relay_flush(timeout=5)
    outbox_publish_soon(after)
    assert outbox_relay_flush(timeout=5)
    assert _deliver_messages_carrying(set(before + after)) == [before, after]


@pytest.mark.django_db(transaction=True)
@override_settings(OUTBOX_RELAY_LINGER_MS=5000)
def test_a_commit_hands_its_messages_over_without_publishing_in_the_request():
    """With a long linger the thread holds the ids: nothing is on the broker right after the
    commit, so the committing thread did not publish; after the linger they are."""
    from django.db import transaction

    from outbox.models import Message
    from outbox.services import outbox_message

    with transaction.atomic():
        message = outbox_message(handler="outbox.tests_only.nothing", payload={})
        message.save(force_insert=True)
        outbox_relay_on_commit([message])
    assert _deliver_messages_carrying({message.pk}) == []
    assert outbox_relay_flush(timeout=10)
    assert _deliver_messages_carrying({message.pk}) == [[message.pk]]
    Message.objects.filter(pk=message.pk).delete()


@pytest.mark.django_db
def test_in_eager_mode_the_callers_thread_publishes_at_once(celery_eager):
    ran = []
    original = relay._relay.submit
    relay._relay.submit = lambda ids: ran.append(ids)  # noqa: B023 - records a hand-over that must not happen
    try:
        outbox_publish_soon(_fresh_ids(1))  # unknown ids: delivered (skipped) in this thread
    finally:
        relay._relay.submit = original
    assert ran == []


@pytest.fixture
def celery_eager():
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
