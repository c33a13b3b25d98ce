"""The click path: redirect with a signed cookie, friendly page for unknown or disabled codes, the
click committed to PostgreSQL's inbox before the redirect and moved to the click table in batches
(idempotently, in two workers at once, across a flush that dies), Redis being down costing nothing,
and repeat clicks counted once per visitor per 30 minutes. Restarts of real processes mid-stream are
in tests/faults/test_click_restarts.py."""

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from affiliates import clicks as click_module
from affiliates import services
from affiliates.clicks import clicks_flush, clicks_waiting, cookie_read
from affiliates.models import Click, TrackedLink
from affiliates.selectors import link_stats
from tests.affiliates.helpers import creator_link, make_promoter, make_sku, offer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_inbox(db):
    """The inbox is no Django model, so a transactional test elsewhere leaves its rows behind."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM affiliates_clickinbox")


@pytest.fixture
def link():
    sku = make_sku()
    offer(sku, 1000)
    return creator_link(make_promoter(), sku)


def test_click_redirects_sets_signed_cookie_and_is_committed_before_the_redirect(link):
    client = Client()
    response = client.get(f"/t/{link.code}")
    assert response.status_code == 302
    assert response["Location"] == f"/products/{link.product_id}/"
    cookie = response.cookies["wsa"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert Click.objects.count() == 0  # in the inbox, not yet in the click table
    assert clicks_waiting() == 1
    [[link_id, _at, click_id]] = cookie_read(type("R", (), {"COOKIES": {"wsa": cookie.value}})())["c"]
    assert link_id == link.pk
    assert clicks_flush() == 1
    stored = Click.objects.get()
    assert stored.link_id == link.pk and stored.click_id.hex == click_id
    assert clicks_waiting() == 0
    assert clicks_flush() == 0


def test_a_signed_in_visitors_click_is_stored_under_their_account(link):
    from tests.factories import UserFactory

    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.get(f"/t/{link.code}").status_code == 302
    clicks_flush()
    assert Click.objects.get().user_id == user.pk


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


def test_disabling_a_link_stops_it_at_once_in_every_process(link):
    """Another process disables the link (a plain UPDATE, as its service does): the very next click
    here is refused; nothing is cached between clicks."""
    assert Client().get(f"/t/{link.code}").status_code == 302
    TrackedLink.objects.filter(pk=link.pk).update(is_active=False)
    assert Client().get(f"/t/{link.code}").status_code == 404
    TrackedLink.objects.filter(pk=link.pk).update(is_active=True)
    assert Client().get(f"/t/{link.code}").status_code == 302
    assert clicks_waiting() == 2


def test_a_flush_that_dies_half_way_leaves_every_click_for_the_next(link, monkeypatch):
    client = Client()
    for _ in range(7):
        client.get(f"/t/{link.code}")

    def dies(_keys):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(click_module, "_users_by_session", dies)
    with pytest.raises(RuntimeError):
        clicks_flush(batch=3)
    monkeypatch.undo()
    assert Click.objects.count() == 0 and clicks_waiting() == 7  # rolled back, nothing taken
    assert clicks_flush(batch=3) == 7
    assert clicks_waiting() == 0 and Click.objects.count() == 7


def test_redis_down_costs_the_click_nothing(link, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    response = Client().get(f"/t/{link.code}")
    assert response.status_code == 302
    assert clicks_flush() == 1
    assert Click.objects.filter(link=link).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_flushing_at_once_move_each_click_once(link):
    client = Client()
    for _ in range(40):
        assert client.get(f"/t/{link.code}").status_code == 302
    results, errors = [], []

    def flush():
        try:
            results.append(clicks_flush(batch=5))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=flush) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(results) == 40
    assert Click.objects.count() == 40 and clicks_waiting() == 0
    assert connection.vendor == "postgresql"
