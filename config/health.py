"""/healthz: 200 when the database and Redis answer, 503 naming what failed."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

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


@never_cache
def healthz(request):
    failures = {
        name: error for name, error in (("database", _check_database()), ("redis", _check_redis())) if error
    }
    if failures:
        logger.warning("health check failed: %s", failures)
        return JsonResponse({"status": "unavailable", "failed": failures}, status=503)
    return JsonResponse({"status": "ok", "redis": "ok" if settings.REDIS_URL else "not configured"})
