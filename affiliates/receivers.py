"""Order events only make the ledger jobs run sooner; beat runs them anyway (affiliates/ledger.py)."""

import logging

from django.dispatch import receiver

from shop import signals

logger = logging.getLogger(__name__)


def _wake_ledger(**kwargs) -> None:
    from affiliates.tasks import sync_ledger

    try:
        sync_ledger.delay()
    except Exception:  # the broker may be down; beat runs the job anyway
        logger.warning("could not queue sync_ledger; beat will run it", exc_info=True)


for _signal, _name in (
    (signals.order_paid, "paid"),
    (signals.order_cancelled, "cancelled"),
    (signals.order_completed, "completed"),
    (signals.order_refunded, "refunded"),
):
    receiver(_signal, dispatch_uid=f"affiliates.ledger_on_{_name}")(_wake_ledger)
