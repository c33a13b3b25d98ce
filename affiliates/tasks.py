"""Celery tasks of the affiliates app: thin, idempotent, safe in several workers at once."""

from celery import shared_task

RETRY = {
    "acks_late": True,
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@shared_task(**RETRY)
def sync_ledger() -> dict:
    """Beat (and after order events): accrue, adjust, cancel and settle commission."""
    from affiliates.ledger import ledger_sync

    return ledger_sync()


@shared_task(**RETRY)
def flush_clicks() -> int:
    """Beat: move buffered clicks from Redis to PostgreSQL."""
    from affiliates.clicks import clicks_flush

    return clicks_flush()
