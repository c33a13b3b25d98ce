"""Celery tasks of withdrawals: thin, idempotent, safe in several workers at once."""

from celery import shared_task

RETRY = {
    "acks_late": True,
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@shared_task(**RETRY)
def reconcile_payouts() -> int:
    """Beat: query WeChat Pay about transfers whose outcome we have not heard (never re-sending a
    bill WeChat has), and send approved ones whose outbox message was lost."""
    from payouts.services import payouts_reconcile

    return payouts_reconcile()
