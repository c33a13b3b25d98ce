"""`make bench`: requests per second of our pages, measured against a bare Django view.

What it does, in order:
1. drops and re-creates a PostgreSQL database for the bench (`weshop_bench`, on the server of
   DATABASE_URL), migrates it and loads the demo data (`manage.py seed_demo`);
2. runs `collectstatic` into a temporary folder and starts gunicorn (config.wsgi, DEBUG=0, a bench
   SECRET_KEY, persistent database connections, Redis cache) with the project's one server
   configuration, gunicorn.conf.py (threaded workers, one per core; BENCH_WORKERS and BENCH_THREADS
   override the sizes), on 127.0.0.1 at a free port, with BENCHMARK_VIEWS=1 so /bench/bare/ (a view
   returning "ok") exists;
3. drives it with `wrk` from another process, and calls `run(ctx)` of every module in BENCH_MODULES
   (modules that do not exist yet are skipped);
4. prints one line per figure, `name value unit`; ratios end in `_ratio`. Then stops the server.

The context handed to `run(ctx)` (a BenchContext):
- `ctx.base_url`: "http://127.0.0.1:<port>" of the running server.
- `ctx.database_url`: the bench database's URL; `ctx.sql(query, params=None) -> list[tuple]` runs a
  query there (for ids to put in URLs, or to check what a run wrote); `ctx.analyze()` updates its
  planner statistics after a module loads data (autovacuum may be off on the machine).
- `ctx.manage(*args) -> subprocess.CompletedProcess`: runs `manage.py <args>` against the bench
  database with the server's environment (e.g. `ctx.manage("shell", "-c", "...")` to add data).
- `ctx.env`: that environment, as a dict.
- `ctx.wrk(path, *, seconds=4, connections=16, script=None, lua_env=None, headers=()) -> float`:
  requests/s of `path` (relative to base_url). `script` is a wrk Lua script (text) for POSTs or
  varying paths; `lua_env` passes values to it through os.getenv; `headers` are "Name: value"
  strings (a session cookie, a token). Fails if any answer was not 2xx/3xx.
- `ctx.bare_rps`: the bare view's requests/s measured at the start of this run.
- `ctx.against_bare(path, *, name=None, **wrk_options) -> tuple[float, float]`: (rps, ratio)
  measured in turns with the bare view (see below); with `name`, the spread over the rounds of
  `<name>_rps` and `<name>_ratio` is printed next to those figures.
A module returns a list of (name, value, unit) tuples.

How ratios are measured, and why. wrk opens all its connections at once and keeps them for the
whole run, and a gthread worker accepts whatever arrives while it is free: watched with `ss`, one of
the four workers regularly held 13 to all 16 of them. The run is then served by that one process,
held to one core by its GIL, at about half the machine's rate (the bare view, pure CPU, shows it
most; a page that waits on PostgreSQL and Redis hides it), and which run gets a lopsided start is
luck: that is why one run read the bare view at half its usual rate between slow pages. So the
server under test caps each worker at its share of wrk's connections (gunicorn's
`worker_connections`, WEB_WORKER_CONNECTIONS, set to BENCH_CONNECTIONS over the workers), which spreads
every run evenly, as many independent clients do. And each round runs the bare view, then the page;
the page's ratio for the round is its rate over the mean of the bare runs just before and after it,
so a slow spell on the shared machine hits both sides alike. A figure is the median over the rounds,
printed with the rounds' min–max.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
BENCH_MODULES = [
    "tests.load.bench_catalog",
    "tests.load.bench_checkout",
    "tests.load.bench_affiliates",
    "tests.load.bench_promoter",
    "tests.load.bench_admin",
    "tests.load.bench_gifting",
]
if os.environ.get("BENCH_ONLY"):  # e.g. BENCH_ONLY=tests.load.bench_catalog: measure just those modules
    BENCH_MODULES = os.environ["BENCH_ONLY"].split(",")
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "weshop_bench")
BARE_PATH = "/bench/bare/"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))


def _log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_urls() -> tuple[str, str]:
    """(bench database URL, maintenance database URL) on the server DATABASE_URL points at."""
    source = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/weshop")
    parts = urlsplit(source)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("make bench needs PostgreSQL: set DATABASE_URL=postgres://...")
    bench = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    return bench, maintenance


def _recreate_database(maintenance_url: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


@dataclass
class BenchContext:
    base_url: str
    database_url: str
    env: dict
    bare_rps: float = 0.0
    _bare_runs: list[float] = field(default_factory=list)
    spreads: dict[str, tuple[float, float, int]] = field(default_factory=dict)

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
        )

    def sql(self, query: str, params=None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database_url) as connection:
            return connection.execute(query, params).fetchall()

    def analyze(self) -> None:
        """ANALYZE the bench database after loading data, as autovacuum would soon after on a server
        that runs it (this machine's PostgreSQL runs with autovacuum off, so tables filled for a
        module would otherwise be planned with no statistics at all)."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as connection:
            connection.execute("ANALYZE")

    def wrk(
        self,
        path: str,
        *,
        seconds: int = SECONDS,
        connections: int = CONNECTIONS,
        script: str | None = None,
        lua_env: dict | None = None,
        headers: tuple[str, ...] | list[str] = (),
    ) -> float:
        if connections > CONNECTIONS:
            # Workers take at most their share of CONNECTIONS: more would wait for ever.
            raise ValueError(f"wrk with {connections} connections: raise BENCH_CONNECTIONS to at least that")
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
        for header in headers:
            command += ["-H", header]
        env = {**os.environ, **(lua_env or {})}
        with tempfile.TemporaryDirectory() as folder:
            if script:
                script_path = Path(folder) / "script.lua"
                script_path.write_text(script)
                command += ["-s", str(script_path)]
            command.append(self.base_url + path)
            result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        output = result.stdout
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
        if bad or (errors and int(errors.group(4)) > 0):
            raise RuntimeError(f"wrk saw failed requests for {path}:\n{output}")
        found = re.search(r"Requests/sec:\s+([\d.]+)", output)
        if not found:
            raise RuntimeError(f"wrk printed no rate for {path}:\n{output}")
        return float(found.group(1))

    def against_bare(self, path: str, *, name: str | None = None, **wrk_options) -> tuple[float, float]:
        """Measure `path` in turns with the bare view: bare, page, bare, page, ..., bare. Returns the
        median rate of the page and the median of its per-round ratios (page over the mean of the
        bare runs on either side); with `name`, records both spreads for printing."""
        self.wrk(path, seconds=1, **wrk_options)  # warm caches and workers
        bare_runs = [self.wrk(BARE_PATH)]
        page_runs = []
        for _round in range(ROUNDS):
            page_runs.append(self.wrk(path, **wrk_options))
            bare_runs.append(self.wrk(BARE_PATH))
        self._bare_runs.extend(bare_runs)
        ratios = [
            page / ((before + after) / 2)
            for page, before, after in zip(page_runs, bare_runs[:-1], bare_runs[1:], strict=True)
        ]
        if name:
            self.spreads[f"{name}_rps"] = (min(page_runs), max(page_runs), ROUNDS)
            self.spreads[f"{name}_ratio"] = (min(ratios), max(ratios), ROUNDS)
        return statistics.median(page_runs), statistics.median(ratios)


def _wait_until_up(
    base_url: str,
    process: subprocess.Popen,
    timeout: float = float(os.environ.get("BENCH_START_SECONDS", "30")),
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            with urllib.request.urlopen(base_url + BARE_PATH, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def _server_env(database_url: str, folder: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "CACHE_KEY_PREFIX": "weshop-bench",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "STATIC_MANIFEST": "1",
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
        "VAR_DIR": str(folder / "var"),
        "CONN_MAX_AGE": "600",
        "BENCHMARK_VIEWS": "1",
        "LOG_LEVEL": "WARNING",
        "FAST_PASSWORD_HASHER": "1",
    }
    return env


def _server_config(env: dict) -> str:
    """Passes BENCH_WORKERS / BENCH_THREADS on to gunicorn.conf.py, caps each worker's connections
    at its share of wrk's (see the module docstring); the resulting sizes, as one line."""
    for name, variable in (("BENCH_WORKERS", "WEB_WORKERS"), ("BENCH_THREADS", "WEB_THREADS")):
        if os.environ.get(name):
            env[variable] = os.environ[name]
    code = (
        "import runpy; s = runpy.run_path('gunicorn.conf.py'); "
        "print(s['worker_class'], s['workers'], s['threads'])"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    worker_class, workers, threads = found.stdout.split()
    share = -(-CONNECTIONS // int(workers))  # ceiling
    env["WEB_WORKER_CONNECTIONS"] = str(max(share, int(threads) + 1))
    return (
        f"gunicorn.conf.py: {worker_class}, {workers} workers x {threads} threads, "
        f"at most {env['WEB_WORKER_CONNECTIONS']} connections each"
    )


def _flush_cache(env: dict) -> None:
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def main() -> int:
    if not shutil.which("wrk"):
        raise SystemExit("make bench needs wrk (apt-get install wrk)")
    database_url, maintenance_url = _database_urls()
    with tempfile.TemporaryDirectory(prefix="weshop-bench-") as temp:
        folder = Path(temp)
        env = _server_env(database_url, folder)
        server_config = _server_config(env)
        _log(f"fresh database {BENCH_DATABASE}, migrate, seed, collectstatic")
        _recreate_database(maintenance_url)
        _flush_cache(env)
        ctx = BenchContext(base_url="", database_url=database_url, env=env)
        for args in (("migrate", "--noinput"), ("seed_demo",), ("collectstatic", "--noinput")):
            result = ctx.manage(*args, check=False)
            if result.returncode:
                print(result.stdout, result.stderr, file=sys.stderr)
                raise SystemExit(f"manage.py {' '.join(args)} failed")
        ctx.analyze()
        port = _free_port()
        ctx.base_url = f"http://127.0.0.1:{port}"
        _log(f"gunicorn ({server_config}) on {ctx.base_url}")
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                "--config", str(ROOT / "gunicorn.conf.py"),
                "--bind", f"127.0.0.1:{port}",
                "--log-level", "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )  # fmt: skip
        figures: list[tuple[str, float, str]] = []
        try:
            _wait_until_up(ctx.base_url, server)
            ctx.wrk(BARE_PATH, seconds=1)
            bare_runs = [ctx.wrk(BARE_PATH) for _ in range(ROUNDS)]
            ctx.bare_rps = statistics.median(bare_runs)
            ctx.spreads["bare_view_rps"] = (min(bare_runs), max(bare_runs), ROUNDS)
            figures.append(("bare_view_rps", ctx.bare_rps, "req/s"))
            print(_format(figures[-1], ctx.spreads), flush=True)
            for name in BENCH_MODULES:
                try:
                    module = importlib.import_module(name)
                except ModuleNotFoundError as error:
                    if error.name == name:
                        _log(f"{name}: not there yet, skipped")
                        continue
                    raise
                for figure in module.run(ctx):
                    figures.append(figure)
                    print(_format(figure, ctx.spreads), flush=True)
            if ctx._bare_runs:
                low, high = min(ctx._bare_runs), max(ctx._bare_runs)
                _log(f"the bare view between pages read {low:.0f}–{high:.0f} req/s")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    return 0


def _shown(name: str, value: float) -> str:
    return f"{value:.2f}" if name.endswith("_ratio") else f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _format(figure: tuple[str, float, str], spreads: dict | None = None) -> str:
    """`name value unit`, then the spread over the rounds when the figure has one."""
    name, value, unit = figure
    line = f"{name} {_shown(name, value)} {unit}"
    if spreads and name in spreads:
        low, high, rounds = spreads[name]
        line += f"  (rounds: {_shown(name, low)}–{_shown(name, high)}, {rounds} rounds)"
    return line


if __name__ == "__main__":
    sys.exit(main())
