"""The click's front door in config.wsgi (ClickDispatch, affiliates/middleware.py): the redirect it
writes itself carries what Django's stack would have put on it (security headers, the cookie in
Django's signed format), anything else is handed to Django and answered with the friendly page, the
statement is prepared once per connection and survives a dropped connection or a forgotten
statement, and the cookie signer agrees with django.core.signing both ways."""

import io
import sys
import time
import uuid
from http.cookies import SimpleCookie

import psycopg
import pytest
from django.core import signing
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.test import Client

from affiliates import clicks as click_module
from affiliates.clicks import (
    COOKIE_NAME,
    COOKIE_SALT,
    RECORD_STATEMENT,
    clicks_flush,
    clicks_waiting,
    cookie_dumps,
    cookie_value,
)
from affiliates.middleware import ClickDispatch
from affiliates.models import Click, TrackedLink
from config.wsgi import application
from tests.affiliates.helpers import creator_link, make_promoter, make_sku, offer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_inbox(db):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM affiliates_clickinbox")


@pytest.fixture
def _in_transaction_wsgi():
    """Django's WSGI handler closes "obsolete" connections around each request, which would end
    the test's transaction when a request falls through to Django; the test client unhooks the same."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def link():
    sku = make_sku()
    offer(sku, 1000)
    return creator_link(make_promoter(), sku)


def wsgi_get(path: str, *, method: str = "GET", app=application, **extra) -> tuple[int, dict, bytes]:
    """One request through config.wsgi.application, as gunicorn makes it; (status, headers, body).
    Headers are a dict of lists (Set-Cookie may repeat)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        **extra,
    }
    answered = []
    body = app(environ, lambda status, headers, *args: answered.append((status, headers)))
    content = b"".join(body)
    if hasattr(body, "close"):
        body.close()
    status, headers = answered[0]
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(value)
    return int(status.split()[0]), merged, content


def record_executions() -> int:
    """How often this connection ran the prepared click statement (0: not prepared)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE name = %s",
            [RECORD_STATEMENT.decode()],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def cookie_of(headers: dict) -> str:
    jar = SimpleCookie()
    for line in headers["set-cookie"]:
        jar.load(line)
    return jar[COOKIE_NAME].value


def test_the_redirect_carries_djangos_headers_and_cookie(link):
    status, headers, body = wsgi_get(f"/t/{link.code}")
    assert status == 302 and body == b""
    assert headers["location"] == [f"/products/{link.product_id}/"]
    assert clicks_waiting() == 1  # committed before the answer
    value = signing.loads(cookie_of(headers), salt=COOKIE_SALT)  # Django's own reader agrees
    [[link_id, _at, click_id]] = value["c"]
    assert link_id == link.pk
    clicks_flush()
    assert Click.objects.get().click_id.hex == click_id

    # The same click through Django's stack: the same headers, the same cookie attributes.
    django_response = Client().get(f"/t/{link.code}")
    for name in ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
        assert headers[name.lower()] == [django_response[name]]
    ours = SimpleCookie(headers["set-cookie"][0])[COOKIE_NAME]
    theirs = django_response.cookies[COOKIE_NAME]
    for attribute in ("max-age", "path", "samesite", "httponly", "secure"):
        assert str(ours[attribute]) == str(theirs[attribute]), attribute


def test_a_returning_visitor_keeps_their_id_and_earlier_clicks(link):
    _status, headers, _body = wsgi_get(f"/t/{link.code}")
    first = cookie_of(headers)
    _status, headers, _body = wsgi_get(f"/t/{link.code}", HTTP_COOKIE=f"{COOKIE_NAME}={first}; other=1")
    before, after = (
        signing.loads(first, salt=COOKIE_SALT),
        signing.loads(cookie_of(headers), salt=COOKIE_SALT),
    )
    assert after["v"] == before["v"] and len(after["c"]) == 2 and after["c"][0] == before["c"][0]


@pytest.mark.usefixtures("_in_transaction_wsgi")
def test_https_behind_the_proxy_gets_hsts_and_plain_http_is_sent_to_https_first(link, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    app = ClickDispatch(get_wsgi_application())  # Django's middleware reads these settings at start
    status, headers, _body = wsgi_get(f"/t/{link.code}", app=app)
    assert status == 301 and headers["location"] == [f"https://testserver/t/{link.code}"]
    assert clicks_waiting() == 0  # the click is taken on the https request, once
    status, headers, _body = wsgi_get(f"/t/{link.code}", app=app, HTTP_X_FORWARDED_PROTO="https")
    assert status == 302 and headers["strict-transport-security"][0].startswith("max-age=3600")
    assert clicks_waiting() == 1


@pytest.mark.usefixtures("_in_transaction_wsgi")
@pytest.mark.parametrize("code", ["nope", "a" * 40, "bad%20code", "%C3%A9t%C3%A9"])
def test_unknown_codes_get_the_friendly_page_from_django(code):
    status, _headers, body = wsgi_get(f"/t/{code}")
    assert status == 404 and b'data-testid="link-gone"' in body
    assert clicks_waiting() == 0


@pytest.mark.usefixtures("_in_transaction_wsgi")
def test_a_disabled_link_is_looked_up_once_and_gets_the_friendly_page(link):
    TrackedLink.objects.filter(pk=link.pk).update(is_active=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE name = %s",
            [RECORD_STATEMENT.decode()],
        )
        [calls_before] = cursor.fetchone() or [0]
    status, _headers, body = wsgi_get(f"/t/{link.code}")
    assert status == 404 and b"link-gone" in body
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE name = %s",
            [RECORD_STATEMENT.decode()],
        )
        [calls_after] = cursor.fetchone()
    assert calls_after - calls_before == 1  # Django's fallback did not take the click again
    assert clicks_waiting() == 0


@pytest.mark.usefixtures("_in_transaction_wsgi")
def test_other_methods_are_left_to_django(link):
    status, _headers, _body = wsgi_get(f"/t/{link.code}", method="POST")
    assert status != 302 and clicks_waiting() == 0


@pytest.mark.django_db(transaction=True)
def test_a_click_that_cannot_be_stored_answers_the_friendly_503_and_stores_nothing(link):
    """Another session holds the inbox locked; with a short lock_timeout the click fails for real."""
    with psycopg.connect(**_params()) as other:
        other.execute("BEGIN")
        other.execute("LOCK TABLE affiliates_clickinbox IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        status, _headers, body = wsgi_get(f"/t/{link.code}")
        other.execute("ROLLBACK")
    assert status == 503 and b"link-gone" in body
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")
    assert clicks_waiting() == 0
    assert wsgi_get(f"/t/{link.code}")[0] == 302 and clicks_waiting() == 1


def _params() -> dict:
    params = connection.get_connection_params()
    return {k: v for k, v in params.items() if k in ("host", "port", "user", "password", "dbname")}


@pytest.mark.django_db(transaction=True)
def test_the_statement_is_prepared_once_and_survives_a_pooler_reset_and_a_dropped_connection(link):
    for _ in range(3):
        assert wsgi_get(f"/t/{link.code}")[0] == 302
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE name = %s",
            [RECORD_STATEMENT.decode()],
        )
        assert cursor.fetchone()[0] >= 3  # one plan, executed for every click
        cursor.execute("DEALLOCATE ALL")  # what a pooler's reset does
    assert wsgi_get(f"/t/{link.code}")[0] == 302
    backend = connection.connection.info.backend_pid
    with psycopg.connect(**_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    time.sleep(0.1)
    assert wsgi_get(f"/t/{link.code}")[0] == 302  # reconnected and prepared again
    assert connection.connection.info.backend_pid != backend
    assert clicks_waiting() == 5


def test_cookie_signer_and_djangos_read_each_other(settings):
    value = {"v": uuid.uuid4().hex, "c": [[7, 1.5, uuid.uuid4().hex] for _ in range(20)]}
    ours = cookie_dumps(value, now=time.time())
    assert ours.startswith(".")  # twenty clicks are compressed, as signing.dumps(compress=True) does
    assert signing.loads(ours, salt=COOKIE_SALT) == value
    assert cookie_value(signing.dumps(value, salt=COOKIE_SALT, compress=True)) == value
    one = {"v": "a" * 32, "c": [[1, 2.0, "b" * 32]]}
    assert signing.loads(cookie_dumps(one, now=time.time()), salt=COOKIE_SALT) == one

    # After a key rotation, cookies signed with the old key (now in SECRET_KEY_FALLBACKS) still count.
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-" + old_key, [old_key]
    assert cookie_value(ours) == value
    # A cookie signed with a key nobody knows, or altered, counts as none.
    settings.SECRET_KEY_FALLBACKS = []
    assert cookie_value(ours)["c"] == []
    settings.SECRET_KEY = old_key
    tampered = ours.replace(ours[5], "A" if ours[5] != "A" else "B", 1)
    assert cookie_value(tampered)["c"] == [] and cookie_value("nonsense:é:x")["c"] == []


def test_the_redirect_path_is_reversed_once_per_link_target(link):
    click_module._target_path.cache_clear()
    for _ in range(3):
        assert wsgi_get(f"/t/{link.code}")[0] == 302
    info = click_module._target_path.cache_info()
    assert (info.misses, info.hits) == (1, 2)
