"""Every beat job run at once in two threads, and in two real Celery worker processes: the same end
state as one run. Rows one run holds are skipped by the other (SKIP LOCKED) and every UPDATE re-checks
the state, so nothing is done twice and nothing is missed after the runs finish."""

import subprocess
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from shop.models import SKU, Order, OrderEvent
from shop.services.orders import orders_auto_receive, orders_cancel_overdue, orders_complete_due
from shop.tasks import auto_receive_orders, cancel_unpaid_orders, clear_stale_carts, complete_orders
from tests.foundation.helpers import BIN, REPO, clean_env, stop
from tests.load.test_checkout_race import race
from tests.shop.order_factories import make_sku, pay_order, place_order, receive_order, ship_order

pytestmark = pytest.mark.django_db(transaction=True)


def _population(n=12):
    sku = make_sku(stock=1000)
    unpaid = [place_order(sku=sku) for _ in range(n)]
    Order.objects.filter(pk__in=[o.pk for o in unpaid]).update(
        payment_deadline=timezone.now() - timedelta(minutes=1)
    )
    shipped = [ship_order(pay_order(place_order(sku=sku))) for _ in range(n)]
    Order.objects.filter(pk__in=[o.pk for o in shipped]).update(
        shipped_at=timezone.now() - timedelta(days=30)
    )
    received = [receive_order(ship_order(pay_order(place_order(sku=sku))), days_ago=30) for _ in range(n)]
    return sku, unpaid, shipped, received


def _assert_end_state(sku, unpaid, shipped, received):
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert {statuses[o.pk] for o in unpaid} == {"cancelled"}
    assert {statuses[o.pk] for o in shipped} == {"received"}
    assert {statuses[o.pk] for o in received} == {"completed"}
    n = len(unpaid)
    assert OrderEvent.objects.filter(kind="cancelled").count() == n
    assert OrderEvent.objects.filter(kind="received").count() == 2 * n  # n by the buyer, n automatically
    assert OrderEvent.objects.filter(kind="completed").count() == n
    assert SKU.objects.get(pk=sku.pk).stock == 1000 - 2 * n


def test_each_job_at_once_in_two_threads_small_batches():
    sku, unpaid, shipped, received = _population()
    for job in (orders_cancel_overdue, orders_auto_receive, orders_complete_due):
        results, errors = race(2, lambda i, job=job: job(batch_size=3))
        assert errors == []
        assert sum(results) <= len(unpaid)  # never twice
        job()  # whatever a run skipped because the other held it is done now, once
    # auto-receive made more orders received; they are inside their window, so not completed.
    Order.objects.filter(pk__in=[o.pk for o in shipped]).update(received_at=timezone.now())
    _assert_end_state(sku, unpaid, shipped, received)


@pytest.mark.celery_worker
def test_each_job_twice_in_two_real_celery_workers():
    sku, unpaid, shipped, received = _population(8)
    queue = f"test-jobs-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    workers = [
        subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                f"--queues={queue}",
                f"--hostname={queue}-{i}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO,
            env=clean_env(DATABASE_URL=database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        for task in (cancel_unpaid_orders, auto_receive_orders, complete_orders, clear_stale_carts):
            for _ in range(2):
                task.apply_async(queue=queue)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            done = (
                not Order.objects.filter(status="pending_payment").exists()
                and not Order.objects.filter(status="shipped").exists()
                and Order.objects.filter(status="completed").count() >= len(received)
            )
            if done:
                break
            assert all(w.poll() is None for w in workers), "a worker died"
            time.sleep(0.3)
        time.sleep(2)  # let the second copies finish too
    finally:
        logs = [stop(w) for w in workers]
    log = "\n".join(logs)
    assert log.count("succeeded") >= 8, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    Order.objects.filter(pk__in=[o.pk for o in shipped]).update(received_at=timezone.now())
    statuses = dict(Order.objects.values_list("pk", "status"))
    # Orders received automatically just now are inside their after-sales window: not completed.
    assert {statuses[o.pk] for o in shipped} == {"received"}
    _assert_end_state(sku, unpaid, shipped, received)
