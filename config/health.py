"""/healthz: 200 when the database and Redis answer, 503 naming what failed.

Either way it also says how the shop has been getting on: cache calls that failed and were served as
misses, and outbox relays the broker refused, counted over every web and worker process
(`counted_in: "all processes"`; while Redis is away, the answering process's own counts, `"this
process"`: see config/logging.py), and outbox messages waiting past their due time (work a worker or
the broker owes: see outbox/services.py)."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from config.logging import shared_failure_counts

logger = logging.getLogger(__name__)


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_redis() -> str | None:
    if not settings.REDIS_URL:
        return None  # the local demo runs without Redis
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _outbox_overdue() -> int | None:
    from outbox.models import Message

    try:
        return Message.objects.filter(done_at__isnull=True, due_at__lt=timezone.now()).count()
    except Exception:  # the database check reports why
        return None


def _degradation() -> dict:
    counts, counted_in = shared_failure_counts()
    return {
        "cache_errors": counts.get("weshop.cache", 0),
        "outbox_relay_errors": counts.get("weshop.outbox.relay", 0),
        "counted_in": counted_in,
        "outbox_overdue": _outbox_overdue(),
    }


@never_cache
def healthz(request):
    failures = {
        name: error for name, error in (("database", _check_database()), ("redis", _check_redis())) if error
    }
    if failures:
        logger.warning("health check failed: %s", failures)
        return JsonResponse({"status": "unavailable", "failed": failures, **_degradation()}, status=503)
    return JsonResponse(
        {"status": "ok", "redis": "ok" if settings.REDIS_URL else "not configured", **_degradation()}
    )
