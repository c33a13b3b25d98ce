"""/healthz: 200 when PostgreSQL and Redis answer, 503 naming what failed."""

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.foundation.helpers import BIN, REPO, clean_env, free_port, run_python, stop, wait_for_http


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "redis": "ok",
        "cache_errors": 0,
        "outbox_relay_errors": 0,
        "counted_in": "all processes",
        "outbox_overdue": 0,
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_503_naming_redis_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert list(body["failed"]) == ["redis"]
    assert "ConnectionError" in body["failed"]["redis"]


@pytest.mark.django_db
def test_healthz_counts_the_failures_of_every_process(client, settings):
    """Cache errors counted in another process (another gunicorn or Celery worker) show on this one's
    /healthz: each process adds its counts to one figure in Redis. While Redis is away, the answering
    process shows its own counts and says so."""
    code = (
        "import django, logging; django.setup();"
        "from config.logging import failures_share;"
        "log = logging.getLogger('weshop.cache');"
        "[log.warning('cache call failed, served as a miss') for _ in range(3)];"
        "assert failures_share()"
    )
    result = run_python(code, env=clean_env())
    assert result.returncode == 0, result.stderr
    body = client.get("/healthz").json()
    assert body["counted_in"] == "all processes" and body["cache_errors"] >= 3
    ours = body["cache_errors"]

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # Redis away: this process's own figure
    body = client.get("/healthz").json()
    assert body["counted_in"] == "this process" and body["cache_errors"] < ours


def test_healthz_is_503_naming_database_when_postgres_is_down():
    # A real server process whose DATABASE_URL points at a port where nothing listens.
    port = free_port()
    env = clean_env(DATABASE_URL="postgres://postgres@127.0.0.1:1/weshop", ALLOWED_HOSTS="127.0.0.1")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", f"--bind=127.0.0.1:{port}", "--workers=1", "--timeout=30"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert answer.value.code == 503
        body = json.loads(answer.value.read())
        assert list(body["failed"]) == ["database"]
        assert "OperationalError" in body["failed"]["database"]
    finally:
        log = stop(server)
    assert "health check failed" in log  # logged, to stdout
