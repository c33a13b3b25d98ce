"""Celery side of the outbox (see outbox/services.py): thin, idempotent, acks_late."""

from celery import shared_task

from outbox import services


@shared_task(acks_late=True)
def deliver(message_ids: list[int]) -> int:
    """Deliver these outbox messages, each on its own; done ones are skipped."""
    return services.outbox_deliver_many(message_ids=message_ids)


@shared_task(acks_late=True)
def deliver_fresh() -> int:
    """Woken after commits (outbox_wake): deliver every message not tried yet."""
    return services.outbox_deliver_fresh()


@shared_task(acks_late=True)
def relay_due() -> int:
    """Beat: relay every unfinished message that is due (missed on commit, lost by the broker, failed)."""
    return services.outbox_relay_due()


@shared_task(acks_late=True)
def purge_done() -> int:
    """Beat: forget messages delivered more than a week ago."""
    return services.outbox_purge_done()
