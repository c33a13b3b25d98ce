"""Order events only make the ledger job run sooner; beat runs it anyway (affiliates/ledger.py).

The shop's announcer calls each receiver in a worker after commit, retried until it succeeds
(shop/services/announce.py), so the receiver simply runs the job: it is idempotent and takes the
ledger lock, so a late or repeated call changes nothing."""

from django.dispatch import receiver

from shop import signals


def _wake_ledger(**kwargs) -> None:
    from affiliates.ledger import ledger_sync

    ledger_sync()


for _signal, _name in (
    (signals.order_paid, "paid"),
    (signals.order_cancelled, "cancelled"),
    (signals.order_completed, "completed"),
    (signals.order_refunded, "refunded"),
    (signals.order_closed, "closed"),
):
    receiver(_signal, dispatch_uid=f"affiliates.ledger_on_{_name}")(_wake_ledger)
