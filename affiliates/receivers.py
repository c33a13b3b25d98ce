"""Order events only make the ledger job run sooner; beat runs it anyway (affiliates/ledger.py).

The shop's announcer calls each receiver in a worker after commit (shop/services/announce.py); the
receiver queues the ledger job as its own task, which is idempotent and takes the ledger lock, so a
late or repeated run changes nothing."""

from django.dispatch import receiver

from shop import signals


def _wake_ledger(**kwargs) -> None:
    from affiliates.tasks import sync_ledger

    sync_ledger.delay()


for _signal, _name in (
    (signals.order_paid, "paid"),
    (signals.order_cancelled, "cancelled"),
    (signals.order_completed, "completed"),
    (signals.order_refunded, "refunded"),
    (signals.order_closed, "closed"),
):
    receiver(_signal, dispatch_uid=f"affiliates.ledger_on_{_name}")(_wake_ledger)
