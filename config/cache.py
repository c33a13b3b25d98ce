"""The Redis client behind the cache, for the few writes that must know they failed.

Cache calls through Django's API never fail here: django-redis's IGNORE_EXCEPTIONS turns an
unreachable Redis into misses and dropped writes (config/settings.py). That is right for reads and
for filling the cache, but not for dropping stale entries: a drop that silently did nothing leaves a
stale page behind. Those run in a worker (outbox handlers) on the raw client from `redis_client()`,
so a failure raises and the outbox retries it.
"""

from django.core.cache import caches


def redis_client(alias: str = "default"):
    """The django-redis backend's raw redis.Redis client (writes go to the primary), or None when the
    cache is not Redis (the local demo's file cache)."""
    backend = caches[alias]
    client = getattr(backend, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client.get_client(write=True)
