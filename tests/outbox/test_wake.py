"""Relay on commit by waking a delivery run (outbox_wake, outbox_deliver_fresh): commits made while a
run is queued share it instead of publishing a task each, and the run delivers every one of them.
Runs are counted on a Celery queue of the test's own on the real Redis broker."""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Notification
from accounts.services import notification_deliver, notification_send
from config.celery import app as celery_app
from outbox.models import Message
from outbox.services import outbox_deliver_fresh, outbox_enqueue
from outbox.tasks import deliver_fresh
from tests.factories import UserFactory


@pytest.fixture
def runs_queued():
    """How many delivery runs wait on this test's own broker queue."""
    queue = f"test-wake-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue

    def count() -> int:
        with celery_app.connection_for_write() as broker:
            return broker.default_channel.client.llen(queue)

    yield count
    celery_app.conf.task_default_queue = previous
    with celery_app.connection_for_write() as broker:
        broker.default_channel.client.delete(queue)


def _send(user, key: str) -> None:
    with transaction.atomic():
        notification_send(user_id=user.pk, key=key, kind="test", title="唤醒测试")


@pytest.mark.django_db(transaction=True)
def test_commits_while_a_run_is_queued_share_it_and_the_run_delivers_them_all(runs_queued):
    user = UserFactory()
    for n in range(3):
        _send(user, f"wake:{n}")
    assert runs_queued() == 1  # three commits, one run on its way

    assert deliver_fresh.apply().get() == 3  # the run, as a worker runs it
    assert set(Notification.objects.filter(user=user).values_list("key", flat=True)) == {
        "wake:0",
        "wake:1",
        "wake:2",
    }
    assert not Message.objects.filter(done_at__isnull=True).exists()

    # The run cleared the flag when it started: the next commit wakes a run of its own.
    _send(user, "wake:3")
    assert runs_queued() == 2
    assert deliver_fresh.apply().get() == 1
    assert Notification.objects.filter(user=user, key="wake:3").exists()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_wakes_nobody(runs_queued):
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        notification_send(user_id=user.pk, key="never", kind="test", title="不会发出")
        raise RuntimeError("the change fails")
    assert runs_queued() == 0
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_fresh_run_leaves_messages_that_failed_before_to_the_sweeps_backoff():
    user = UserFactory()
    failed = Message.objects.create(
        handler=notification_deliver.outbox_handler,
        payload={"user_id": user.pk, "key": "failed-before", "kind": "test", "title": "x"},
        due_at=timezone.now() + timedelta(minutes=5),
        attempts=1,
        last_error="RuntimeError: earlier",
    )
    fresh = outbox_enqueue(
        handler=notification_deliver,
        payload={"user_id": user.pk, "key": "fresh", "kind": "test", "title": "x"},
    )
    assert outbox_deliver_fresh() == 1
    fresh.refresh_from_db()
    failed.refresh_from_db()
    assert fresh.done_at is not None
    assert failed.done_at is None and failed.attempts == 1  # waits for its backoff
    assert list(Notification.objects.filter(user=user).values_list("key", flat=True)) == ["fresh"]


@pytest.mark.django_db(transaction=True)
def test_a_run_that_meets_its_limit_wakes_another_for_the_rest(runs_queued):
    user = UserFactory()
    for n in range(3):
        _send(user, f"many:{n}")
    assert runs_queued() == 1
    assert outbox_deliver_fresh(limit=2) == 2
    assert runs_queued() == 2  # the rest has a run of its own
    assert outbox_deliver_fresh(limit=2) == 1
    assert Notification.objects.filter(user=user).count() == 3
