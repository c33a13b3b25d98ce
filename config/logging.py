"""Logging helpers: a filter that lets a repeating failure through once a period and counts it all.

When Redis goes away every cache call and every outbox relay fails, hundreds of times a second under
load. The log should say so, not drown: `RateLimitFilter` passes the first record of a logger per
period (noting how many it held back since), and counts every record for /healthz.

The counts /healthz shows are shared by every process (each gunicorn worker, each Celery worker), so
any worker that answers /healthz gives the same figure. They are kept in a Redis hash, which is
awkward only because the failures counted are mostly Redis's own: so each process counts in memory
first, and a small thread of that process adds what it counted to the hash every few seconds once
Redis answers again (nothing counted is lost to an outage; a Redis restart loses only counts already
shared, not those of the outage that caused it). While Redis cannot be reached, /healthz says so and
shows the counts of the process that answered (`counted_in: "this process"`). No cache call pays
anything for this: only a failure, already on its slow path, touches a counter.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

_counts: Counter = Counter()  # this process, since it started
_pending: Counter = Counter()  # counted here, not yet added to the shared figure
_lock = threading.Lock()
_sharer: dict = {"pid": None, "thread": None}
SHARE_EVERY_SECONDS = 5
SHARED_KEY_SUFFIX = "health:failures"
_clients: dict = {}


def failure_counts() -> dict[str, int]:
    """Records seen per logger name by every RateLimitFilter of this process since it started."""
    with _lock:
        return dict(_counts)


def _redis():
    """A client with short timeouts of its own (not the cache's), one per process; None without Redis."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return None
    key = (os.getpid(), settings.REDIS_URL)
    client = _clients.get(key)
    if client is None:
        import redis

        client = _clients[key] = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=0.2, socket_timeout=0.2
        )
    return client


def _shared_key() -> str:
    from django.conf import settings

    prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX") or "weshop"
    return f"{prefix}:{SHARED_KEY_SUFFIX}"


def failures_share() -> bool:
    """Add this process's counts not yet shared to the shared figure. True when nothing is left
    pending; False when Redis could not take them (they stay pending for the next try)."""
    with _lock:
        pending = dict(_pending)
    if not pending:
        return True
    client = _redis()
    if client is None:
        return False
    try:
        pipeline = client.pipeline(transaction=False)
        for name, count in pending.items():
            pipeline.hincrby(_shared_key(), name, count)
        pipeline.execute()
    except Exception:  # Redis is still away: keep them
        return False
    with _lock:
        _pending.subtract(pending)
        for name in [name for name, count in _pending.items() if count <= 0]:
            del _pending[name]
        return not _pending


def shared_failure_counts() -> tuple[dict[str, int], str]:
    """(counts per logger name, where they were counted): every process's, read from Redis after
    adding this process's pending ones; or, when Redis cannot be read, this process's own."""
    failures_share()
    client = _redis()
    if client is not None:
        try:
            shared = client.hgetall(_shared_key())
        except Exception:
            shared = None
        if shared is not None:
            counts = {name.decode(): int(value) for name, value in shared.items()}
            with _lock:
                for name, count in _pending.items():  # taken by none yet (Redis came back meanwhile)
                    counts[name] = counts.get(name, 0) + count
            return counts, "all processes"
    return failure_counts(), "this process"


def _share_in_background() -> None:
    """Every few seconds, share what this process counted; stop once nothing is pending."""
    while True:
        time.sleep(SHARE_EVERY_SECONDS)
        if _redis() is None:  # the local demo: nowhere to share, this process's counts are the figure
            with _lock:
                _pending.clear()
        failures_share()
        with _lock:
            if not _pending:
                _sharer["thread"] = None
                return


def _ensure_sharer() -> None:
    """Called with _lock held, after counting: one sharing thread per process while counts wait."""
    thread = _sharer["thread"]
    if thread is not None and _sharer["pid"] == os.getpid() and thread.is_alive():
        return
    thread = threading.Thread(target=_share_in_background, name="weshop-failure-counts", daemon=True)
    _sharer.update(pid=os.getpid(), thread=thread)
    thread.start()


class RateLimitFilter(logging.Filter):
    def __init__(self, seconds: float = 60):
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, float] = {}
        self._held: Counter = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with _lock:
            _counts[record.name] += 1
            _pending[record.name] += 1
            _ensure_sharer()
            last = self._last.get(record.name)
            if last is not None and now - last < self.seconds:
                self._held[record.name] += 1
                return False
            self._last[record.name] = now
            held = self._held.pop(record.name, 0)
        if held:
            record.msg = (
                f"{record.msg} ({held} more like this in the last {self.seconds:g} s were not logged)"
            )
        return True
