"""The outbox: work that must follow a commit is recorded in the commit, then relayed to Celery.

Writers call `outbox_enqueue(handler=..., payload=...)` (or build messages with `outbox_message` and
insert them with their own statement, then `outbox_relay_on_commit`) inside the transaction whose
change causes the work. Nothing reaches the broker unless that transaction commits, and nothing is
lost if the broker is away when it does:

- relay on commit: once the transaction commits, a worker is woken to deliver every message that
  has not been tried yet (`outbox_wake`, `outbox.tasks.deliver_fresh`), without retrying, so a
  broker outage costs the request nothing. Wakes are coalesced: while one delivery run is queued and
  has not started, later commits only see its flag in Redis (one round trip) instead of publishing a
  Celery task each, because the run reads the messages from the database when it starts and so
  finds theirs too. Under a checkout rush that is one publish per run instead of one per order;
- relay by sweep: beat runs `outbox.tasks.relay_due` every half minute and publishes every message
  not yet done whose `due_at` has passed (a grace period after its commit, then backoff after each
  failure). A message the broker lost (Redis restarted empty) or never got is relayed again.

Delivery (`outbox_deliver`) is exactly once in effect: a worker takes the message's advisory lock
(PostgreSQL releases it if the worker dies, so a SIGKILLed delivery can run again at once), skips a
message already done, runs the handler, and marks it done. A handler marked `atomic` runs in one
transaction with that mark, so its database writes happen once; others (calls to WeChat Pay, e-mail)
must be idempotent themselves, since a crash between their effect and the mark runs them again.
A failing handler is logged with its error on the row and retried with backoff; it never stops the
other messages.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from config.cache import redis_client
from outbox.models import Message

logger = logging.getLogger(__name__)
# Relay failures (the broker is away) are logged here; config.logging rate-limits and counts them.
relay_logger = logging.getLogger("weshop.outbox.relay")

# Advisory lock namespace of outbox deliveries (the first of PostgreSQL's two int4 lock keys).
_LOCK_NAMESPACE = 0x0B0C


def _seconds(name: str, default: int) -> timedelta:
    return timedelta(seconds=getattr(settings, name, default))


def outbox_handler(func: Callable | None = None, *, atomic: bool = False):
    """Mark a function as an outbox handler, called with the message's payload as keyword arguments.

    `atomic`: run it in one transaction with the message's done mark (its database writes then happen
    exactly once). Leave it off for handlers that call the outside world; those must be idempotent.
    """

    def mark(function: Callable) -> Callable:
        function.outbox_handler = f"{function.__module__}.{function.__qualname__}"
        function.outbox_atomic = atomic
        return function

    return mark(func) if func is not None else mark


def outbox_message(*, handler: Callable | str, payload: dict, now: datetime | None = None) -> Message:
    """An unsaved message for `handler` (a marked function or its dotted path)."""
    name = handler if isinstance(handler, str) else handler.outbox_handler
    now = now or timezone.now()
    return Message(
        handler=name,
        payload=payload,
        created_at=now,
        due_at=now + _seconds("OUTBOX_RELAY_GRACE_SECONDS", 60),
    )


def outbox_enqueue(*, handler: Callable | str, payload: dict) -> Message:
    """Record one message in the current transaction; it is relayed when the transaction commits."""
    message = outbox_message(handler=handler, payload=payload)
    message.save(force_insert=True)
    outbox_relay_on_commit([message])
    return message


def outbox_enqueue_many(messages: list[Message]) -> None:
    """Insert messages built with `outbox_message` in one statement and relay them on commit."""
    if messages:
        Message.objects.bulk_create(messages)
        outbox_relay_on_commit(messages)


def outbox_relay_on_commit(messages: Iterable[Message], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Have these (already inserted) messages delivered soon after the current transaction commits:
    a worker is woken (`outbox_wake`) and delivers every message not tried yet, these among them."""
    if any(message.pk for message in messages):
        transaction.on_commit(outbox_wake, using=using)


# The wake flag: set while a delivery run of fresh messages is queued and has not started reading.
WAKE_KEY = "outbox:wake"
# How long a flag is trusted. A run normally clears it within milliseconds of being published; if
# its task message is lost on the way (Redis restarted empty), the next commit after this long
# publishes a new run, and the sweep relays whatever is due meanwhile.
WAKE_SECONDS = 5


def outbox_wake() -> bool:
    """Make sure a delivery run of fresh messages (`outbox_deliver_fresh`) starts after now.

    If the wake flag is already set, a run is queued and has not started: it reads the messages when
    it starts, after this call, so it delivers whatever the caller committed, and nothing is
    published. Otherwise the flag is set and a run is published, without retrying. Any Redis or
    broker error falls back to the sweep (messages are due a grace period after their commit), so it
    never fails the request that committed them. Returns whether a run is known to be on its way."""
    client = redis_client()
    key = cache.make_key(WAKE_KEY) if client is not None else None
    if client is not None:
        try:
            # SET key 1 NX EX 5, sent as it is (redis-py's set() spends more on its keyword
            # arguments than on the round trip's own Python, on every commit).
            if not client.execute_command("SET", key, 1, "NX", "EX", WAKE_SECONDS):
                return True
        except Exception as exc:  # Redis away: try the broker anyway (it may be another server)
            relay_logger.warning("outbox wake flag unavailable, publishing a run: %r", exc)
            client = None
    from outbox.tasks import deliver_fresh

    try:
        deliver_fresh.apply_async(retry=False)
    except Exception as exc:
        relay_logger.warning("outbox wake failed, the sweep will relay the messages: %r", exc)
        if client is not None:
            with contextlib.suppress(Exception):  # no run is coming: the next commit tries again
                client.delete(key)
        return False
    return True


def outbox_publish(ids: list[int]) -> bool:
    """Hand message ids to Celery in one task message, without retrying: if the broker is away the
    messages wait for the sweep. Returns whether the broker took them."""
    from outbox.tasks import deliver

    try:
        deliver.apply_async(args=[list(ids)], retry=False)
    except Exception as exc:  # any broker failure: the sweep relays them later
        relay_logger.warning("outbox relay of %d message(s) failed, the sweep will retry: %r", len(ids), exc)
        return False
    return True


# --- delivery -------------------------------------------------------------------------------------


class _DeliveryLock:
    """A session-level advisory lock per message on PostgreSQL: two workers never deliver one message
    at once, and a worker that dies (SIGKILL) releases it with its connection. Elsewhere (the SQLite
    local demo, one worker) it always succeeds."""

    def __init__(self, message_id: int):
        self.key = (_LOCK_NAMESPACE, message_id & 0x7FFFFFFF)
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.postgres = self.connection.vendor == "postgresql"

    def __enter__(self) -> bool:
        if not self.postgres:
            return True
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key)
            self.acquired = cursor.fetchone()[0]
        return self.acquired

    def __exit__(self, *exc_info) -> None:
        if self.postgres and self.acquired:
            try:
                with self.connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
            except Exception:  # the connection is gone, and the lock with it
                logger.warning("outbox lock %s not released; its connection is gone", self.key)


def _retry_delay(attempts: int) -> timedelta:
    cap = getattr(settings, "OUTBOX_RETRY_MAX_SECONDS", 3600)
    return timedelta(seconds=min(cap, 30 * 2 ** max(0, attempts - 1)))


def outbox_deliver(*, message_id: int) -> bool:
    """Run one message's handler unless it is done or being delivered elsewhere.

    Returns True when it ran and is now done; False when there was nothing to do (done, unknown,
    another worker holds it) or the handler failed (the error is kept on the row and the message is
    due again after a backoff). Must be called outside a transaction.
    """
    with _DeliveryLock(message_id) as acquired:
        if not acquired:
            return False
        message = Message.objects.filter(pk=message_id, done_at__isnull=True).first()
        if message is None:
            return False
        try:
            handler = import_string(message.handler)
            if not getattr(handler, "outbox_handler", None):
                raise ImportError(f"{message.handler} is not an outbox handler")
            if handler.outbox_atomic:
                with transaction.atomic():
                    handler(**message.payload)
                    _mark_done(message)
            else:
                handler(**message.payload)
                _mark_done(message)
        except Exception as exc:
            attempts = message.attempts + 1
            logger.exception(
                "outbox message %s (%s) failed, attempt %d", message.pk, message.handler, attempts
            )
            Message.objects.filter(pk=message.pk).update(
                attempts=attempts,
                due_at=timezone.now() + _retry_delay(attempts),
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            return False
    return True


def _mark_done(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(done_at=timezone.now(), attempts=F("attempts") + 1)


def outbox_deliver_many(*, message_ids: Iterable[int]) -> int:
    """Deliver each message on its own (one failing never stops the next). Returns how many ran."""
    return sum(outbox_deliver(message_id=message_id) for message_id in message_ids)


def outbox_deliver_fresh(*, limit: int = 500) -> int:
    """A woken run (`outbox_wake`): deliver every message not done and never tried, oldest first.

    The wake flag is cleared before the messages are read, so a commit that still saw it set is read
    here, and one that comes later wakes a run of its own. Messages that failed before (attempts > 0)
    are left to the sweep and its backoff. Two runs at once are harmless: each message is delivered
    under its own lock, once. A run that meets `limit` messages wakes another for the rest. Returns
    how many ran."""
    client = redis_client()
    if client is not None:
        try:
            client.delete(cache.make_key(WAKE_KEY))
        except Exception as exc:  # the flag expires by itself; a commit then wakes a new run
            logger.warning("outbox wake flag not cleared: %r", exc)
    ids = list(
        Message.objects.filter(done_at__isnull=True, attempts=0)
        .order_by("due_at", "pk")  # the sweep's partial index: only unfinished rows
        .values_list("pk", flat=True)[:limit]
    )
    ran = outbox_deliver_many(message_ids=ids)
    if len(ids) == limit:
        outbox_wake()
    return ran


# --- sweep ----------------------------------------------------------------------------------------


def outbox_relay_due(*, now: datetime | None = None, limit: int = 5000, chunk: int = 100) -> int:
    """Publish every unfinished message whose `due_at` has passed (beat, every half minute) and move
    its `due_at` on by OUTBOX_REDELIVER_SECONDS, after which it is relayed again if still not done
    (the broker may have lost it). Stops at the first publish the broker refuses. Returns how many
    were published."""
    now = now or timezone.now()
    ids = list(
        Message.objects.filter(done_at__isnull=True, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    published = 0
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        if not outbox_publish(part):
            break
        Message.objects.filter(pk__in=part, done_at__isnull=True).update(
            due_at=now + _seconds("OUTBOX_REDELIVER_SECONDS", 300)
        )
        published += len(part)
    return published


def outbox_purge_done(*, now: datetime | None = None) -> int:
    """Delete messages done more than OUTBOX_KEEP_DONE_DAYS ago (beat, daily). Returns rows deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=getattr(settings, "OUTBOX_KEEP_DONE_DAYS", 7))
    deleted, _ = Message.objects.filter(done_at__lt=cutoff).delete()
    return deleted


def outbox_retry(*, message_ids: Iterable[int], now: datetime | None = None) -> int:
    """An operator's "retry now": the given messages that are not done become due at once and are
    relayed in one publish (if the broker is away, the sweep relays them, as for any due message).
    Done messages are left alone: what ran is never run again. Returns how many were made due."""
    now = now or timezone.now()
    ids = list(
        Message.objects.filter(pk__in=list(message_ids), done_at__isnull=True).values_list("pk", flat=True)
    )
    if ids:
        Message.objects.filter(pk__in=ids, done_at__isnull=True).update(due_at=now)
        transaction.on_commit(functools.partial(outbox_publish, ids))
    return len(ids)
