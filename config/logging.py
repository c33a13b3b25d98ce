"""Logging helpers: a filter that lets a repeating failure through once a period and counts it all.

When Redis goes away every cache call and every outbox relay fails, hundreds of times a second under
load. The log should say so, not drown: `RateLimitFilter` passes the first record of a logger per
period (noting how many it held back since), and `failure_counts()` keeps every record's count for
/healthz. Counts are per process (each gunicorn worker and Celery worker keeps its own).
"""

import logging
import threading
import time
from collections import Counter

_counts: Counter = Counter()
_lock = threading.Lock()


def failure_counts() -> dict[str, int]:
    """Records seen per logger name by every RateLimitFilter of this process since it started."""
    with _lock:
        return dict(_counts)


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
