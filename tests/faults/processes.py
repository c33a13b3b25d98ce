"""The shop's processes for fault tests: our own redis-server on a free port (never the shared one),
gunicorn, a Celery worker and beat, all pointed at this test's PostgreSQL database."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis
from django.db import connection

from tests.foundation.helpers import BIN, REPO, clean_env, free_port, stop, wait_for_http

REDIS_SERVER = shutil.which("redis-server")


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class OwnRedis:
    """A redis-server with no persistence: stopping it loses everything, as production's Redis does."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            + ["--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def queued(self, queue: str = "celery") -> int:
        return redis.Redis(port=self.port).llen(queue)


def shop_env(own_redis: OwnRedis, **extra: str) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=database_url(),
        REDIS_URL=own_redis.url,
        CACHE_KEY_PREFIX="fault-test",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        DEBUG="0",
        **extra,
    )


class Processes:
    """Started processes, stopped (and their output kept) at the end."""

    def __init__(self):
        self.running: list[subprocess.Popen] = []
        self.logs: list[str] = []

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        process = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.running.append(process)
        return process

    def web(self, env: dict[str, str]) -> str:
        port = free_port()
        self.start(
            [str(BIN / "gunicorn"), "config.wsgi", f"--bind=127.0.0.1:{port}", "--workers=1", "--threads=4"]
            + ["--timeout=60"],
            env,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", timeout=60)
        return base

    def worker(self, env: dict[str, str], *, queue: str = "celery", pool: str = "solo") -> subprocess.Popen:
        return self.start(
            [str(BIN / "celery"), "-A", "config", "worker", f"--pool={pool}", "--concurrency=1"]
            + ["--loglevel=INFO", f"--queues={queue}", f"--hostname={queue}-{free_port()}@%h"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
            env,
        )

    def beat(self, env: dict[str, str], schedule: Path) -> subprocess.Popen:
        return self.start(
            [str(BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO", f"--schedule={schedule}"], env
        )

    def stop_all(self) -> str:
        for process in reversed(self.running):
            if process.poll() is None or process.stdout is not None:
                self.logs.append(stop(process))
        self.running = []
        return "\n".join(self.logs)


def wait_until(predicate, *, timeout: float = 60, interval: float = 0.2, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError((message() if callable(message) else message) or "timed out")
        time.sleep(interval)
