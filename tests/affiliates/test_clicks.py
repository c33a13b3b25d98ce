"""The click path: redirect with a signed cookie, friendly page for unknown codes, the Redis buffer
flushed idempotently, no click lost across a dying flush, a Redis restart or Redis being down, and
repeat clicks counted once per visitor per 30 minutes."""

import json
import socket
import subprocess
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.test import Client
from django.utils import timezone

from affiliates import clicks as click_module
from affiliates import services
from affiliates.clicks import buffer_key, clicks_flush, cookie_read, redis_client
from affiliates.models import Click
from affiliates.selectors import link_stats
from tests.affiliates.helpers import creator_link, make_promoter, make_sku, offer

pytestmark = pytest.mark.django_db


@pytest.fixture
def link():
    sku = make_sku()
    offer(sku, 1000)
    return creator_link(make_promoter(), sku)


@pytest.fixture(autouse=True)
def _empty_buffer():
    client = redis_client()
    client.delete(buffer_key())
    for key in client.scan_iter(match=f"{buffer_key()}:processing:*"):
        client.delete(key)
    click_module._link_cache.clear()
    yield
    click_module._client = None
    click_module._link_cache.clear()


def test_click_redirects_sets_signed_cookie_and_buffers(link):
    client = Client()
    response = client.get(f"/t/{link.code}")
    assert response.status_code == 302
    assert response["Location"] == f"/products/{link.product_id}/"
    cookie = response.cookies["wsa"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert Click.objects.count() == 0  # buffered, not yet written
    assert redis_client().llen(buffer_key()) == 1
    assert clicks_flush() == 1
    stored = Click.objects.get()
    assert stored.link_id == link.pk
    assert clicks_flush() == 0


def test_forged_cookie_counts_as_none(link, rf):
    request = rf.get("/", HTTP_COOKIE="wsa=eyJ2IjoiYSIsImMiOltbMSwxLCJ4Il1dfQ:forged:sig")
    assert cookie_read(request)["c"] == []


@pytest.mark.parametrize("code", ["nope", "a" * 40, "bad code", "%00"])
def test_unknown_code_gets_a_friendly_page(code):
    response = Client().get(f"/t/{code}")
    assert response.status_code == 404
    assert b'data-testid="link-gone"' in response.content


def test_disabled_code_gets_a_friendly_page(link):
    services.link_set_active(promoter=link.promoter, link_id=link.pk, active=False)
    response = Client().get(f"/t/{link.code}")
    assert response.status_code == 404 and b"link-gone" in response.content


def test_repeat_clicks_within_30_minutes_count_once(link):
    client = Client()
    for _ in range(3):
        client.get(f"/t/{link.code}")
    Client().get(f"/t/{link.code}")  # another visitor
    clicks_flush()
    assert link_stats([link.pk])[link.pk] == {"clicks": 4, "visits": 2}
    # The first visitor comes back after 31 minutes: a new visit.
    Click.objects.update(clicked_at=timezone.now() - timedelta(minutes=31))
    client.get(f"/t/{link.code}")
    clicks_flush()
    assert link_stats([link.pk])[link.pk] == {"clicks": 5, "visits": 3}


def test_a_flush_that_died_after_taking_the_buffer_is_adopted(link):
    client = Client()
    for _ in range(5):
        client.get(f"/t/{link.code}")
    # A flush renamed the buffer and died before deleting it (an old processing key).
    orphan = f"{buffer_key()}:processing:{time.time() - 3600:.3f}:{uuid.uuid4().hex}"
    redis_client().rename(buffer_key(), orphan)
    # ...and it had already inserted the first two before dying: inserting again is harmless.
    click_module.clicks_insert([json.loads(r) for r in redis_client().lrange(orphan, 0, 1)])
    client.get(f"/t/{link.code}")
    assert clicks_flush() == 4
    assert Click.objects.count() == 6
    assert not redis_client().exists(orphan)


def test_redis_down_writes_the_click_straight_to_postgres(link, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    click_module._client = None
    response = Client().get(f"/t/{link.code}")
    assert response.status_code == 302
    assert Click.objects.filter(link=link).count() == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int, folder) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def _stop_redis(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def test_no_click_lost_across_a_flush_and_a_redis_restart(link, settings, tmp_path):
    """Our own redis-server (with its append-only file, as the README asks for the click buffer):
    clicks sent while a flush is half done, while Redis restarts and while it is down all end up as
    rows, each exactly once."""
    port = _free_port()
    process = _start_redis(port, tmp_path)
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    click_module._client = None
    client, sent = Client(), 0
    try:
        for _ in range(30):
            assert client.get(f"/t/{link.code}").status_code == 302
            sent += 1
        # A flush takes the buffer and dies before inserting or deleting anything.
        orphan = f"{buffer_key()}:processing:{time.time() - 3600:.3f}:{uuid.uuid4().hex}"
        redis_client().rename(buffer_key(), orphan)
        for _ in range(20):
            client.get(f"/t/{link.code}")
            sent += 1
        _stop_redis(process)  # Redis restarts mid-way
        for _ in range(10):  # while it is down
            assert client.get(f"/t/{link.code}").status_code == 302
            sent += 1
        assert Click.objects.count() == 10
        process = _start_redis(port, tmp_path)
        for _ in range(15):
            client.get(f"/t/{link.code}")
            sent += 1
        clicks_flush()
        clicks_flush()
    finally:
        _stop_redis(process)
    assert Click.objects.count() == sent == 75
    assert Click.objects.values("click_id").distinct().count() == 75
