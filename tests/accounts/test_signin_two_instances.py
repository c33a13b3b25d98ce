"""Brute force against two real web instances (two gunicorn servers sharing the test database), through
the page, the token API and the admin, from two client addresses given by the trusted proxy header:
the lock comes within the configured number of tries, holds on both instances, and the owner's right
password works again once the cool-off has passed."""

import re
import subprocess
from datetime import timedelta

import pytest
import requests
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

from tests.factories import UserFactory
from tests.foundation.helpers import BIN, REPO, clean_env, free_port, stop, wait_for_http

pytestmark = pytest.mark.django_db(transaction=True)

WRONG = "wrong-password-1"


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def two_instances(tmp_path):
    env = clean_env(
        DATABASE_URL=_database_url(),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        STATIC_MANIFEST="0",
        FAST_PASSWORD_HASHER="1",
        CLIENT_IP_HEADER="X-Forwarded-For",
        CLIENT_IP_TRUSTED_PROXIES="1",
        VAR_DIR=str(tmp_path),
    )
    servers, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            servers.append(
                subprocess.Popen(
                    [
                        str(BIN / "gunicorn"),
                        "config.wsgi",
                        f"--bind=127.0.0.1:{port}",
                        "--workers=1",
                        "--threads=2",
                        "--timeout=30",
                    ],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for_http(f"{url}/healthz")
        yield urls
    finally:
        for server in servers:
            stop(server)


def _form_post(base: str, path: str, fields: dict, address: str) -> requests.Response:
    """A browser's sign-in: load the form (CSRF cookie and token), then post it."""
    session = requests.Session()
    page = session.get(base + path, headers={"X-Forwarded-For": address}, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        base + path,
        data={**fields, "csrfmiddlewaretoken": token},
        headers={"X-Forwarded-For": address, "Referer": base + path},
        allow_redirects=False,
        timeout=10,
    )


def page(base, phone, password, address):
    return _form_post(base, "/accounts/login/", {"username": phone, "password": password}, address)


def admin(base, phone, password, address):
    return _form_post(base, "/admin/login/?next=/admin/", {"username": phone, "password": password}, address)


def token(base, phone, password, address):
    return requests.post(
        base + "/api/v1/auth/token/",
        json={"phone": phone, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=10,
    )


def test_guessing_across_two_instances_doors_and_addresses_locks_within_the_limit(two_instances, password):
    first, second = two_instances
    owner = UserFactory(password=password, is_staff=True)
    limit = settings.AXES_FAILURE_LIMIT
    # Every door, both instances, two addresses, in turn.
    tries = [
        (page, first, "198.51.100.1"),
        (token, second, "198.51.100.2"),
        (admin, first, "198.51.100.2"),
        (token, first, "198.51.100.1"),
        (page, second, "198.51.100.2"),
        (admin, second, "198.51.100.1"),
        (token, second, "198.51.100.1"),
    ]
    statuses = []
    for door, base, address in tries:
        statuses.append(door(base, owner.phone, WRONG, address).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    assert len(statuses) == limit, statuses  # locked exactly at the configured try
    assert 429 not in statuses[:-1]

    # Locked on both instances and every door, even with the right password, from a third address.
    assert token(first, owner.phone, password, "198.51.100.3").status_code == 429
    locked_page = page(second, owner.phone, password, "198.51.100.3")
    assert locked_page.status_code == 429 and "登录失败次数过多" in locked_page.text
    assert admin(first, owner.phone, password, "198.51.100.3").status_code == 429
    locked_api = token(second, owner.phone, password, "198.51.100.3")
    assert locked_api.status_code == 429 and locked_api.headers["Retry-After"] == "900"

    # Both addresses were counted, as the proxy header gave them.
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.1", "198.51.100.2"}

    # Time travel past the cool-off: the owner's right password works on either instance.
    past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert "token" in token(second, owner.phone, password, "198.51.100.1").json()
    assert page(first, owner.phone, password, "198.51.100.2").status_code == 302


def test_a_burst_of_parallel_guesses_is_locked_after_the_limit_plus_what_was_in_flight(
    two_instances, password
):
    """30 guesses at once from 10 threads across both instances (2 × 2 request threads): only guesses
    already inside a server when the lock comes in may still be answered; every later one is 429."""
    from concurrent.futures import ThreadPoolExecutor

    first, second = two_instances
    owner = UserFactory(password=password)
    limit = settings.AXES_FAILURE_LIMIT
    in_flight = 2 * 2  # gunicorn --workers=1 --threads=2 on each of the two instances

    def guess(n):
        return token(first if n % 2 else second, owner.phone, WRONG, f"198.51.100.{n % 3 + 1}").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(guess, range(30)))
    print("answers:", statuses)
    assert set(statuses) <= {400, 429}
    # Guesses whose password was checked are the counted failures (guesses refused by the lock are not
    # counted); a guess that raced the lock may be answered 429 although it was checked.
    checked = sum(
        AccessAttempt.objects.filter(username=owner.phone).values_list("failures_since_start", flat=True)
    )
    assert limit <= checked <= limit + in_flight, (checked, statuses)
    assert statuses.count(400) <= limit - 1 + in_flight, statuses
    assert token(second, owner.phone, password, "198.51.100.9").status_code == 429
