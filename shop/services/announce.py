"""One way to announce an order change: `order_announce(signal, orders=..., **refs)`.

Checkout, every order transition and the beat jobs call it inside the transaction that makes the
change. It records one outbox message per receiver of the signal (see outbox/services.py) in that
same transaction, so an announcement exists exactly when the change committed. A worker then calls
each receiver on its own, in one transaction with the message's done mark: a receiver that fails
(Redis away, a bug) is retried with backoff and never stops the others nor fails the request that
made the change, and a receiver's database writes happen once.

Receivers connect to the signals in shop/signals.py as usual and get `sender=Order`, `signal`,
`order` (one call per order), and the named objects given as `refs` (e.g. `refund`), loaded fresh.
They run in a worker, after commit, possibly late and possibly again after a crash between their
side effects outside the database and the done mark: keep effects outside the database idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.apps import apps
from django.db import models
from django.dispatch import Signal

from outbox.models import Message
from outbox.services import outbox_enqueue_many, outbox_handler, outbox_message
from shop import signals
from shop.models import Order

logger = logging.getLogger(__name__)

_SIGNAL_NAMES = {id(value): name for name, value in vars(signals).items() if isinstance(value, Signal)}


def _receiver_name(receiver) -> str:
    return f"{receiver.__module__}.{receiver.__qualname__}"


def _receivers(signal: Signal) -> dict[str, object]:
    sync_receivers, _async_receivers = signal._live_receivers(Order)
    return {_receiver_name(receiver): receiver for receiver in sync_receivers}


def _ref(value):
    """A model instance (or a list of one model's instances) as a reference; JSON values as they are."""
    if isinstance(value, models.Model):
        return {"model": value._meta.label_lower, "pk": value.pk}
    if isinstance(value, list | tuple) and value and all(isinstance(item, models.Model) for item in value):
        return {"model": value[0]._meta.label_lower, "pks": [item.pk for item in value]}
    return value


def _load_ref(value):
    """What `_ref` referred to, loaded fresh (a list keeps its order)."""
    if isinstance(value, dict) and set(value) == {"model", "pk"}:
        return apps.get_model(value["model"])._base_manager.get(pk=value["pk"])
    if isinstance(value, dict) and set(value) == {"model", "pks"}:
        found = apps.get_model(value["model"])._base_manager.in_bulk(value["pks"])
        return [found[pk] for pk in value["pks"] if pk in found]
    return value


def order_announcement_messages(
    signal: Signal, *, orders: Iterable[Order] = (), order_ids: Iterable[int] = (), **refs
) -> list[Message]:
    """The unsaved outbox messages announcing `signal` for these orders, one per receiver (for
    callers that insert them with their own statement, as checkout does; then call
    `outbox.services.outbox_relay_on_commit`)."""
    ids = sorted({order.pk for order in orders} | set(order_ids))
    if not ids:
        return []
    payload = {
        "signal": _SIGNAL_NAMES[id(signal)],
        "order_ids": ids,
        "refs": {key: _ref(value) for key, value in refs.items()},
    }
    return [
        outbox_message(handler=order_announcement_deliver, payload={**payload, "receiver": name})
        for name in sorted(_receivers(signal))
    ]


def order_announce(
    signal: Signal, *, orders: Iterable[Order] = (), order_ids: Iterable[int] = (), **refs
) -> None:
    """Announce `signal` for these orders once the current transaction commits (and only if it does).
    One INSERT however many orders and receivers."""
    outbox_enqueue_many(order_announcement_messages(signal, orders=orders, order_ids=order_ids, **refs))


@outbox_handler(atomic=True)
def order_announcement_deliver(*, signal: str, receiver: str, order_ids: list[int], refs: dict) -> None:
    """Outbox handler: call one receiver for each announced order (in a worker, after commit)."""
    target_signal = getattr(signals, signal)
    target = _receivers(target_signal).get(receiver)
    if target is None:
        logger.warning("announcement of %s: receiver %s is no longer connected; skipped", signal, receiver)
        return
    loaded = {key: _load_ref(value) for key, value in refs.items()}
    for order in Order.objects.filter(pk__in=order_ids).order_by("pk"):
        target(sender=Order, signal=target_signal, order=order, **loaded)
