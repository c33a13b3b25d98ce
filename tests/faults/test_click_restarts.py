"""No click is lost when Redis, the worker or a web process restarts mid-way.

The shop runs as in production (gunicorn, a Celery worker, beat flushing clicks every few seconds)
on this test's PostgreSQL database and a redis-server of the test's own with no persistence. A
sender keeps opening a tracked link while, in turn, Redis is killed and comes back empty, the
worker is killed (SIGKILL) and started again, and gunicorn's worker process is killed and
respawned. Every click that was answered with a redirect carries its click id in the signed cookie;
at the end each of those ids is a row in the click table, exactly once, and no row exists that was
not sent.
"""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core import signing
from django.db import connection

from affiliates.clicks import COOKIE_NAME, COOKIE_SALT
from affiliates.models import Click
from tests.affiliates.helpers import creator_link, make_promoter, make_sku, offer
from tests.faults.processes import REDIS_SERVER, OwnRedis, Processes, shop_env, wait_until

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server"),
]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


class Sender(threading.Thread):
    """Opens the link over and over; keeps the click id of every redirect it was answered."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.attempts, self.answered, self.failed = 0, [], 0

    def run(self):
        while not self.stop.is_set():
            self.attempts += 1
            try:
                response = requests.get(self.url, allow_redirects=False, timeout=10)
            except requests.RequestException:
                self.failed += 1  # the web process died under us: no answer, no promise
                time.sleep(0.02)
                continue
            if response.status_code == 302:
                cookie = signing.loads(response.cookies[COOKIE_NAME], salt=COOKIE_SALT)
                self.answered.append(cookie["c"][-1][2])
            else:
                self.failed += 1
            time.sleep(0.005)

    def wait_for(self, more: int, timeout: float = 60) -> None:
        target = len(self.answered) + more
        wait_until(lambda: len(self.answered) >= target, timeout=timeout, message="clicks stopped")


def test_no_click_lost_when_redis_the_worker_and_a_web_process_restart(tmp_path):
    sku = make_sku()
    offer(sku, 1000)
    link = creator_link(make_promoter(), sku)

    own_redis = OwnRedis(tmp_path)
    own_redis.start()
    processes = Processes()
    env = shop_env(own_redis)
    sender = None
    try:
        base = processes.web(env)
        web = processes.running[-1]
        worker = processes.worker(env)
        processes.beat(env, tmp_path / "beat-schedule")
        sender = Sender(f"{base}/t/{link.code}")
        sender.start()
        sender.wait_for(30)

        own_redis.stop()  # Redis dies with whatever it held...
        sender.wait_for(30)
        own_redis.start()  # ...and comes back empty
        sender.wait_for(30)

        os.kill(worker.pid, signal.SIGKILL)  # the worker dies mid-stream (perhaps mid-flush)
        sender.wait_for(30)
        processes.worker(env)

        (web_worker,) = _children(web.pid)
        os.kill(web_worker, signal.SIGKILL)  # a web process dies; gunicorn starts another
        sender.wait_for(30, timeout=90)

        sender.stop.set()
        sender.join(timeout=30)
        sent = set(sender.answered)
        assert len(sent) == len(sender.answered) >= 150

        def stored() -> int:
            return Click.objects.filter(link=link).count()

        wait_until(
            lambda: stored() >= len(sent),
            timeout=120,
            message=lambda: f"{stored()} of {len(sent)} answered clicks stored",
        )
        rows = {
            click_id.hex for click_id in Click.objects.filter(link=link).values_list("click_id", flat=True)
        }
        assert sent <= rows  # every answered click is stored...
        assert len(rows) <= sender.attempts  # ...and nothing that was never sent
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM affiliates_clickinbox")
            waiting = cursor.fetchone()[0]
        assert Click.objects.filter(link=link).count() == len(rows)  # each once
        assert waiting + len(rows) <= sender.attempts
    finally:
        if sender is not None:
            sender.stop.set()
        log = processes.stop_all()
        own_redis.stop()
        with connection.cursor() as cursor:  # no Django model: the test's flush would leave it
            cursor.execute("DELETE FROM affiliates_clickinbox")
    assert "flush_clicks" in log, log[-3000:]
