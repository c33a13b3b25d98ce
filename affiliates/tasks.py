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


@shared_task(**RETRY)
def rollup_stats(full: bool = False) -> dict:
    """Beat: bring the promoter statistics rollups up to date (affiliates/stats.py)."""
    from affiliates.stats import stats_rollup

    return stats_rollup(full=full)


@shared_task(**RETRY)
def send_notices() -> int:
    """Beat: applications decided, 推客 joined, clawbacks (affiliates/notices.py)."""
    from affiliates.notices import notices_send

    return notices_send()


@shared_task(**RETRY)
def send_commission_digest() -> int:
    """Beat, daily: yesterday's settled commission, one message per promoter."""
    from affiliates.notices import commission_digest_send

    return commission_digest_send()
