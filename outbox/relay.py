"""The relay on commit, off the request's path: committed message ids are handed to one background
thread per process, which publishes whatever has gathered in one Celery task message.

Publishing costs a request about 0.4 ms of CPU (Celery builds and encodes a task message, kombu
pushes it to Redis and waits for the answer): on checkout, a fifth of the web process's time per
order. Handed to this thread, the request only appends ids to a list; the thread waits
OUTBOX_RELAY_LINGER_MS for others to join, then publishes them together, so under load one publish
carries the messages of several commits.

Nothing here is needed for correctness. The messages are rows committed with the change; if this
process dies before publishing, or the broker is away, the sweep (`outbox.tasks.relay_due`) relays
them once their grace period has passed, as it does for any message the broker lost. With Celery in
eager mode (tasks run in the caller) or OUTBOX_RELAY_LINGER_MS below 0, ids are published at once in
the caller's thread, as `outbox_publish` always does.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

BATCH = 500  # ids per task message


class _Relay:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[int] = []
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, ids: list[int]) -> None:
        with self._lock:
            self._pending.extend(ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def _take(self) -> list[int]:
        with self._lock:
            while not self._pending:
                self._wake.wait()
            self._busy = True
        time.sleep(max(0, settings.OUTBOX_RELAY_LINGER_MS) / 1000)  # let other commits join
        with self._lock:
            ids, self._pending = self._pending, []
        return ids

    def _run(self) -> None:
        from celery import current_app

        from outbox.services import outbox_publish

        while True:
            ids = self._take()
            try:
                if current_app.conf.task_always_eager:
                    # Eager mode was switched on meanwhile (tests do): publishing would run the tasks
                    # here, in this thread. They are left to the sweep.
                    continue
                for start in range(0, len(ids), BATCH):
                    outbox_publish(ids[start : start + BATCH])  # logs a failure; the sweep retries
            except Exception:  # never let the thread die: the next commit would wait for the sweep
                logger.exception("outbox relay thread: publishing %d message(s) failed", len(ids))
            finally:
                with self._lock:
                    self._busy = False
                    self._wake.notify_all()

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every id handed over so far is published (tests, process exit). Returns
        whether that happened within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return not (self._pending or self._busy)
                self._wake.wait(left)
        return True


_relay = _Relay()
# A forked child (a gunicorn worker) starts with no thread and nothing pending of its parent's.
os.register_at_fork(after_in_child=_relay._reset)
atexit.register(lambda: _relay.flush(timeout=2.0))


def outbox_publish_soon(ids: list[int]) -> None:
    """Publish these committed message ids shortly, from the background thread (see above)."""
    from celery import current_app

    from outbox.services import outbox_publish

    if settings.OUTBOX_RELAY_LINGER_MS < 0 or current_app.conf.task_always_eager:
        outbox_publish(ids)
        return
    _relay.submit(list(ids))


def outbox_relay_flush(timeout: float = 2.0) -> bool:
    """Wait for the background thread to publish what it was handed (see `_Relay.flush`)."""
    return _relay.flush(timeout)
