"""A worker killed with SIGKILL in the middle of its work, and PostgreSQL dropping every connection:
the work runs again (acks_late + reject_on_worker_lost, or the next beat) and ends where it would
have ended without the crash; web and worker reconnect on their own."""

import os
import signal
import threading
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import Notification
from config.celery import app as celery_app
from outbox.models import Message
from shop.models import SKU, Order, OrderEvent, Refund
from shop.payments.sandbox import state as sandbox_state
from shop.services.locking import lock_one
from shop.services.payments import (
    payment_notification_handle,
    payment_start,
    refund_create,
    refund_notification_handle,
)
from tests.faults.processes import REDIS_SERVER, OwnRedis, Processes, database_url, shop_env, wait_until
from tests.foundation.helpers import clean_env
from tests.shop.order_factories import make_buyer, make_sku, place_order
from tests.shop.payments.servers import BackgroundServer

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
REFUNDS = "/v3/refund/domestic/refunds"


class HoldingProxy:
    """Stands between the worker and the sandbox: forwards every call, but holds the answer to the
    first refund request (after the sandbox has taken the refund) until released: the worker dies
    while WeChat Pay has the refund and we have not heard back."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.forwarded, self.release = threading.Event(), threading.Event()
        self.refund_answers: list[bytes] = []

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"] + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        headers.pop("Host", None)
        request = urllib.request.Request(
            self.upstream + path,
            data=environ["wsgi.input"].read(length) if length else None,
            headers=headers,
            method=environ["REQUEST_METHOD"],
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, answer_headers, body = answer.status, answer.headers.items(), answer.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, body = error.code, error.headers.items(), error.read()
        if path.endswith(REFUNDS):
            self.refund_answers.append(body)
            if len(self.refund_answers) == 1:
                self.forwarded.set()
                self.release.wait(60)
        skip = {"transfer-encoding", "connection", "content-length"}
        start_response(
            f"{status} X",
            [(k, v) for k, v in answer_headers if k.lower() not in skip]
            + [("Content-Length", str(len(body)))],
        )
        return [body]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(child) for child in children)
    return found


@pytest.fixture
def own_queue():
    """A queue of this test's own on the shared Redis, so no other worker takes its messages."""
    queue = f"crash-test-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous


def _worker_env(settings, queue, **extra):
    return clean_env(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        DEBUG="0",
        CELERY_TASK_DEFAULT_QUEUE=queue,  # what the worker queues goes to its own queue too
        **extra,
    )


def test_a_worker_killed_while_wechat_pay_takes_a_refund_submits_it_again_and_ends_the_same(
    settings, wechatpay_sandbox, own_queue, tmp_path
):
    order = place_order(quantity=2)
    prepay = payment_start(order_id=order.pk, buyer=order.buyer, client_ip="127.0.0.1", return_url="/")
    headers, body = wechatpay_sandbox.confirm(prepay.prepay_id)
    payment = payment_notification_handle(headers=headers, body=body)
    proxy = HoldingProxy(wechatpay_sandbox.server.url)
    proxy_server = BackgroundServer(proxy)
    processes = Processes()
    try:
        worker = processes.worker(
            _worker_env(
                settings,
                own_queue,
                WECHATPAY_SANDBOX="1",
                WECHATPAY_GATEWAY=f"{proxy_server.url}/sandbox/wechatpay",
                WECHATPAY_SANDBOX_DIR=settings.WECHATPAY["SANDBOX_DIR"],
            ),
            queue=own_queue,
            pool="prefork",
        )
        with transaction.atomic():
            locked = lock_one(Order.objects.filter(pk=order.pk))
            refund = refund_create(
                order=locked, payment=payment, amount_fen=order.total_fen // 2, reason="测试"
            )
        message = Message.objects.get(
            handler="shop.services.refunds.refund_submit", payload={"refund_id": refund.pk}
        )

        assert proxy.forwarded.wait(60), "the worker never asked for the refund"
        assert wechatpay_sandbox.refund(refund.out_refund_no) is not None  # WeChat Pay has it
        (child,) = _children(worker.pid)
        os.kill(child, signal.SIGKILL)  # mid-call: our side never heard the answer
        proxy.release.set()

        # acks_late + reject_on_worker_lost: the pool's parent puts the task back and a new child runs it.
        wait_until(
            lambda: Message.objects.filter(pk=message.pk, done_at__isnull=False).exists(),
            timeout=90,
            message="the refund was not submitted again",
        )
    finally:
        log = processes.stop_all()
        proxy.release.set()
        proxy_server.stop()
    assert "SIGKILL" in log or "WorkerLostError" in log, log[-2000:]
    assert len(proxy.refund_answers) == 2  # asked twice, answered the same refund both times
    assert proxy.refund_answers[0] == proxy.refund_answers[1] or (b'"refund_id"' in proxy.refund_answers[1])
    message.refresh_from_db()
    assert message.attempts == 1  # one run finished; the killed one left nothing behind
    refund.refresh_from_db()
    at_provider = wechatpay_sandbox.refund(refund.out_refund_no)
    assert refund.status == Refund.Status.PROCESSING and refund.refund_id == at_provider["refund_id"]
    transaction_at_provider = sandbox_state.transaction_find(payment.out_trade_no)
    assert transaction_at_provider is not None

    # It settles as it would have without the crash: one refund of the amount, on the order once.
    headers, body = wechatpay_sandbox.refund_notification(refund.out_refund_no)
    refund_notification_handle(headers=headers, body=body)
    refund_notification_handle(headers=headers, body=body)
    order.refresh_from_db()
    assert order.refunded_fen == order.total_fen // 2
    assert Refund.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, kind="refunded").count() == 1


def _waiting_on_outbox_insert() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            ['INSERT INTO "outbox_message"%'],
        )
        return [row[0] for row in cursor.fetchall()]


def _activity(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity WHERE pid = %s", [pid]
        )
        return repr(cursor.fetchall())


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def test_a_worker_killed_inside_the_cancel_job_leaves_nothing_half_done_and_the_next_run_finishes(
    settings, own_queue
):
    from shop.tasks import cancel_unpaid_orders

    sku = make_sku(stock=10)
    orders = [place_order(sku=sku, quantity=2) for _ in range(3)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(
        payment_deadline=timezone.now() - timedelta(minutes=1)
    )
    env = _worker_env(settings, own_queue)
    processes = Processes()
    blocker = connections.create_connection("default")
    try:
        worker = processes.worker(env, queue=own_queue)
        # The checkouts above announced their orders: let the worker deliver that first.
        wait_until(lambda: not Message.objects.filter(done_at__isnull=True).exists(), timeout=60)
        # Hold the outbox table: the job blocks on its first INSERT there, after it has cancelled the
        # orders, returned their stock and logged their events inside its transaction.
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute('LOCK TABLE "outbox_message" IN EXCLUSIVE MODE')
        cancel_unpaid_orders.apply_async(queue=own_queue)
        wait_until(_waiting_on_outbox_insert, timeout=60, message="the job never reached the outbox")
        (backend,) = _waiting_on_outbox_insert()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        blocker.rollback()  # the orphaned transaction goes on, finds its client gone, and rolls back
        wait_until(lambda: not _backend_alive(backend), timeout=30, message=_activity(backend))

        # Nothing of the killed run remains: not cancelled, stock still taken, no events, no messages.
        assert Order.objects.filter(pk__in=[o.pk for o in orders], status="pending_payment").count() == 3
        assert SKU.objects.get(pk=sku.pk).stock == 4
        assert not OrderEvent.objects.filter(kind="cancelled").exists()

        # The next beat run, on a fresh worker, does it all once.
        processes.worker(env, queue=own_queue)
        cancel_unpaid_orders.apply_async(queue=own_queue)
        wait_until(
            lambda: Order.objects.filter(status="cancelled").count() == 3, timeout=60, message="not cancelled"
        )
        cancel_unpaid_orders.apply_async(queue=own_queue)  # and again: changes nothing
        wait_until(
            lambda: (
                not Message.objects.filter(done_at__isnull=True, payload__order_ids__isnull=True)
                .filter(handler="accounts.services.notification_deliver")
                .exists()
                and Notification.objects.filter(kind="order_cancelled").count() == 3
            ),
            timeout=60,
            message=lambda: (
                f"buyers not told: {list(Message.objects.values_list('handler', 'done_at', 'last_error'))}"
            ),
        )
    finally:
        blocker.close()
        log = processes.stop_all()
    assert SKU.objects.get(pk=sku.pk).stock == 10, log[-2000:]
    assert OrderEvent.objects.filter(kind="cancelled").count() == 3
    assert Notification.objects.filter(kind="order_cancelled").count() == 3
    announced = Message.objects.filter(payload__signal="order_cancelled")
    assert announced.exists() and all(
        sorted(m.payload["order_ids"]) == sorted(o.pk for o in orders) for m in announced
    )


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
def test_web_and_worker_reconnect_after_postgresql_drops_every_connection(tmp_path):
    """What a database restart does to the shop's processes, without restarting the shared server:
    every backend of this database is terminated; the next request and the next task just work."""
    buyer = make_buyer()
    token = Token.objects.create(user=buyer).key
    first, second = place_order(buyer=buyer), place_order(buyer=buyer)
    own_redis = OwnRedis(tmp_path)
    own_redis.start()
    processes = Processes()
    env = shop_env(own_redis)
    auth = {"Authorization": f"Token {token}"}
    try:
        base = processes.web(env)
        processes.worker(env)

        def cancel_and_deliver(order):
            answer = requests.post(f"{base}/api/v1/orders/{order.number}/cancel/", headers=auth, timeout=30)
            assert answer.status_code == 200, answer.text
            cancelled = Message.objects.filter(
                payload__signal="order_cancelled", payload__order_ids=[order.pk]
            )
            wait_until(
                lambda: cancelled.exists() and not cancelled.filter(done_at__isnull=True).exists(),
                timeout=60,
                message=lambda: f"not delivered: {list(Message.objects.values_list('payload', 'done_at'))}",
            )

        assert requests.get(f"{base}/api/v1/orders/", headers=auth, timeout=30).status_code == 200
        cancel_and_deliver(first)  # web and worker now hold open connections

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            terminated = len(cursor.fetchall())
        # The web's connection at least; the worker holds one only if it has not recycled it since
        # its last task, so the next task proves either a reconnect or a fresh connection.
        assert terminated >= 1

        assert requests.get(f"{base}/api/v1/orders/", headers=auth, timeout=30).status_code == 200
        cancel_and_deliver(second)
    finally:
        log = processes.stop_all()
        own_redis.stop()
    assert Order.objects.filter(pk__in=[first.pk, second.pk], status="cancelled").count() == 2, log[-2000:]
