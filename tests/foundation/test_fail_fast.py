"""The suite stops at once, with a clear message, when PostgreSQL or Redis is unreachable."""

import subprocess
import time

from tests.foundation.helpers import BIN, REPO, clean_env

TARGET = "tests/foundation/test_settings.py"


def _run_pytest(**env):
    started = time.monotonic()
    result = subprocess.run(
        [str(BIN / "pytest"), TARGET, "-p", "no:cacheprovider", "-q", "-x"],
        cwd=REPO,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - started


def test_unreachable_postgres_stops_the_run_at_once():
    result, seconds = _run_pytest(DATABASE_URL="postgres://postgres@127.0.0.1:1/weshop")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "PostgreSQL is unreachable at 127.0.0.1:1" in output
    assert " passed" not in output
    assert seconds < 30


def test_unreachable_redis_stops_the_run_at_once():
    result, seconds = _run_pytest(REDIS_URL="redis://127.0.0.1:1/0")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Redis is unreachable at redis://127.0.0.1:1/0" in output
    assert " passed" not in output
    assert seconds < 30


def test_sqlite_is_refused():
    result, _seconds = _run_pytest(DATABASE_URL="sqlite:////tmp/should-not-be-used.sqlite3")
    assert result.returncode != 0
    assert "Tests run on PostgreSQL only" in result.stdout + result.stderr
