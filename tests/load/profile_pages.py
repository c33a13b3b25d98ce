"""CPU per request of the pages `make bench` measures, in-process, through the whole middleware stack.

    python -m tests.load.profile_pages [page ...]

with DATABASE_URL (seeded: `manage.py seed_demo`), REDIS_URL and the rest of the environment exported
as for `manage.py` (and BENCHMARK_VIEWS=1 for the bare view). For each page it prints the CPU time
of one request (the best of ROUNDS rounds of N requests; process time, so another program's load
on the machine changes it less than wall time), the Python function calls of one request (exact
and repeatable: the figure to compare before and after a change on a shared machine), its database
queries and its Redis round trips, and the bare view's CPU over the page's (what the bench's ratio
would be if nothing but this process's CPU counted). PROFILE=<page> prints cProfile's view of that
page (SORT=cumulative|tottime, TOP=60).

The bench (tests/load/bench.py) measures requests per second under gunicorn and wrk; this finds
where a page's time goes.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from urllib.parse import quote

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("BENCHMARK_VIEWS", "1")

import django  # noqa: E402

django.setup()

import redis.connection  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from accounts.models import User  # noqa: E402

SHOPPER_PHONE = "13800000003"  # the demo shopper the bench signs in as
PROMOTER_PHONE = "13900000077"  # tests.load.bench_promoter's creator (page "promoter_stats", when set up)
# seed_demo's creator 带货达人 and agency owner 星河机构负责人 (the withdrawal pages, as the bench has them)
CREATOR_PHONE, AGENCY_OWNER_PHONE = "13800000004", "13800000020"
N = int(os.environ.get("N", "100"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))

handler = WSGIHandler()


def _signed_in_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={get_random_string(32)}"


def _pages() -> dict[str, tuple[str, dict]]:
    user = User.objects.get(phone=SHOPPER_PHONE)
    client = Client()
    client.force_login(user)
    cookie = (
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; "
        f"{settings.CSRF_COOKIE_NAME}={get_random_string(32)}"
    )
    token = Token.objects.get_or_create(user=user)[0].key
    with connection.cursor() as cursor:  # the product the bench measures
        cursor.execute(
            "SELECT p.id FROM shop_product p WHERE p.status = 'on_sale' "
            "AND EXISTS (SELECT 1 FROM shop_productimage i WHERE i.product_id = p.id) "
            "AND EXISTS (SELECT 1 FROM shop_specdimension d WHERE d.product_id = p.id) ORDER BY p.id LIMIT 1"
        )
        product = cursor.fetchone()[0]
    signed_in, api = {"HTTP_COOKIE": cookie}, {"HTTP_AUTHORIZATION": f"Token {token}"}
    pages = {}
    promoter = User.objects.filter(phone=PROMOTER_PHONE).first()
    if promoter is not None:  # built by tests.load.bench_promoter.setup()
        pages["promoter_stats"] = ("/promoter/centre/", {"HTTP_COOKIE": _signed_in_cookie(promoter)})
    for name, path, phone in (
        ("promoter_withdrawals", "/promoter/withdrawals/", CREATOR_PHONE),
        ("agency_withdrawals", "/promoter/agency/withdrawals/", AGENCY_OWNER_PHONE),
    ):
        payee = User.objects.filter(phone=phone).first()
        if payee is not None:
            pages[name] = (path, {"HTTP_COOKIE": _signed_in_cookie(payee)})
    return {
        "bare": ("/bench/bare/", {}),
        "product_detail": (f"/products/{product}/", {}),
        "product_list": ("/", {}),
        "signed_in_product_detail": (f"/products/{product}/", signed_in),
        "signed_in_home": ("/", signed_in),
        "signed_in_search": (f"/search/?q={quote('连衣')}", signed_in),
        "api_product_detail": (f"/api/v1/products/{product}/", api),
        "api_product_list": ("/api/v1/products/", api),
        **pages,
    }


def _request(path: str, extra: dict) -> str:
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        **extra,
    }
    status = []
    body = handler(environ, lambda line, headers, *args: status.append(line))
    b"".join(body)
    body.close()
    return status[0]


def _round_trips(path: str, extra: dict) -> tuple[int, int]:
    queries, sent = [], []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting
    try:
        with connection.execute_wrapper(lambda execute, *args: queries.append(1) or execute(*args)):
            _request(path, extra)
    finally:
        redis.connection.AbstractConnection.send_packed_command = original
    return len(queries), len(sent)


def main(names: list[str]) -> None:
    pages = _pages()
    results = {}
    for name in names or list(pages):
        path, extra = pages[name]
        for _ in range(5):  # warm: the shared parts cached, the session cached
            status = _request(path, extra)
        if not status.startswith("200"):
            raise SystemExit(f"{name}: {path} answered {status}")
        queries, round_trips = _round_trips(path, extra)
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.process_time()
            for _ in range(N):
                _request(path, extra)
            best = min(best, (time.process_time() - started) / N)
        calls = []
        for _ in range(3):
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(10):
                _request(path, extra)
            profile.disable()
            calls.append(pstats.Stats(profile).total_calls / 10)
        results[name] = (best * 1000, min(calls), queries, round_trips)
    bare = results.get("bare", (None,))[0]
    for name, (cpu_ms, calls, queries, round_trips) in results.items():
        ratio = f"{bare / cpu_ms:.2f}" if bare else "-"
        print(
            f"{name:26s} {cpu_ms:6.3f} ms CPU  {calls:6.0f} calls  {queries} queries  "
            f"{round_trips} Redis round trips  bare/page {ratio}"
        )
    if os.environ.get("PROFILE"):
        path, extra = pages[os.environ["PROFILE"]]
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(N):
            _request(path, extra)
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("TOP", "60")))


if __name__ == "__main__":
    main(sys.argv[1:])
