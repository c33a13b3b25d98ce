"""Celery tasks of the gifting app: thin, idempotent, safe in several workers at once."""

from celery import shared_task

RETRY = {
    "acks_late": True,
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@shared_task(**RETRY)
def gift_timers() -> dict:
    """Beat: open paid gifts, draw lucky draws, remind givers, refund unclaimed copies."""
    from gifting.services import gift_timers as run

    return run()


@shared_task(**RETRY)
def expire_gift(gift_id: int) -> bool:
    """Refund one gift's unclaimed copies (idempotent; beat does the same for every due gift)."""
    from gifting.services import gift_expire

    return gift_expire(gift_id=gift_id) is not None
