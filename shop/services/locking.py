"""The one way to lock rows.

Every service that locks rows goes through `lock_ordered`, which always takes the row locks in
primary-key order: two transactions that need overlapping rows then queue behind each other instead of
deadlocking. Across tables the order is fixed too, and every order-flow service takes the order row
first: (buyer, for checkout idempotency) → orders → after-sales requests → payments and refunds → SKUs.
No lock is ever held while a payment provider is being called: provider calls happen after commit
(see shop.services.payments).
"""

from django.db import models


def lock_ordered(
    queryset: models.QuerySet,
    *,
    skip_locked: bool = False,
    limit: int | None = None,
    of: tuple[str, ...] = ("self",),
    no_key: bool = False,
) -> list:
    """SELECT ... FOR UPDATE the rows of `queryset` in primary-key order and return them.

    Must run inside `transaction.atomic()`. `skip_locked` leaves out rows another transaction holds
    (for batch jobs that may run at the same time in two workers). `of` limits the lock to the
    queryset's own table when it follows foreign keys with select_related. `limit` takes the first
    rows in that order (a batch). `no_key` takes FOR NO KEY UPDATE, which rows inserted meanwhile with
    a foreign key to these rows (their FOR KEY SHARE) do not wait for, nor block.
    """
    queryset = queryset.select_for_update(skip_locked=skip_locked, of=of, no_key=no_key).order_by("pk")
    if limit is not None:
        queryset = queryset[:limit]
    return list(queryset)


def lock_one(queryset: models.QuerySet, *, of: tuple[str, ...] = ("self",), no_key: bool = False):
    """Lock and return the single row of `queryset`, or None: `lock_ordered` for one row."""
    rows = lock_ordered(queryset, of=of, no_key=no_key)
    return rows[0] if rows else None
