"""A task really runs in a Celery worker process on the Redis broker (not eager mode)."""

import subprocess
import time
import uuid

import pytest
from django.db import connection

from accounts import services
from accounts.models import Notification
from config.celery import app as celery_app
from tests.factories import UserFactory
from tests.foundation.helpers import BIN, REPO, clean_env, stop


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_notification_send_is_delivered_by_a_real_worker(settings):
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    # A queue of this test's own, so no other worker on the same Redis takes the message.
    queue = f"test-worker-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            f"--queues={queue}",
            f"--hostname={queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=REPO,
        env=clean_env(DATABASE_URL=_database_url()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        user = UserFactory()
        # Queued through the service, as the shop does, and only when the transaction commits.
        from django.db import transaction

        with transaction.atomic():
            services.notification_send(
                user_id=user.pk, key=f"worker-test:{queue}", kind="test", title="来自真实 worker 的通知"
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Notification.objects.filter(key=f"worker-test:{queue}", user=user).exists():
                break
            assert worker.poll() is None, "the worker died"
            time.sleep(0.25)
    finally:
        celery_app.conf.task_default_queue = previous_queue
        log = stop(worker)
    assert Notification.objects.filter(key=f"worker-test:{queue}", user=user).count() == 1, log
    assert "outbox.tasks.deliver_fresh" in log and "succeeded" in log
