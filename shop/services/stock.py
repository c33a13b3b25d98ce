"""Stock moves. Stock only ever changes here, by conditional UPDATE, inside the caller's transaction.

`stock_take` is the oversell guard: `stock = stock - n WHERE stock >= n`. The CheckConstraint
stock >= 0 on SKU is the database's last word behind it.
"""

from collections.abc import Mapping

from django.db import transaction
from django.db.models import Case, F, Q, When

from config.postgres.base import prepared_cursor
from shop.models import SKU
from shop.services.errors import OutOfStock
from shop.services.locking import lock_ordered

_STOCK = SKU._meta.get_field("stock").column
# The single-SKU take left to the CheckConstraint (stock >= 0) alone: a take the stock cannot cover
# fails the statement instead of changing no row (see stock_take_one's `refused_by_constraint`).
_TAKE_ONE_CHECKED_SQL = (
    f'UPDATE "{SKU._meta.db_table}" SET "{_STOCK}" = "{_STOCK}" - %s WHERE "{SKU._meta.pk.column}" = %s'
)
# The conditional take, written out: the same statement as
# SKU.objects.filter(pk=sku_id, stock__gte=n).update(stock=F("stock") - n) without building and
# compiling it on every "buy now" (the hot SKU's row is locked from here to the commit).
_TAKE_ONE_SQL = f'{_TAKE_ONE_CHECKED_SQL} AND "{_STOCK}" >= %s'
STOCK_CONSTRAINT = "sku_stock_non_negative"


def stock_take_one(
    *, quantities: Mapping[int, int], refused_by_constraint: bool = False
) -> tuple[str, list] | None:
    """The take of a single SKU as a statement (SQL with RETURNING, and its parameters) for a caller
    that runs it inside one of its own (checkout's last INSERT: `rawsql.insert_together(also=...)`),
    which must raise OutOfStock unless it returned one row. None when `quantities` names several
    SKUs: those are locked first, in order, by `stock_take`.

    With `refused_by_constraint` a take the stock cannot cover fails the whole statement on the
    SKU's CheckConstraint (STOCK_CONSTRAINT) instead of taking nothing: for a statement that runs
    outside any transaction, where writing the rest and then refusing is no longer possible."""
    quantities = {sku_id: n for sku_id, n in quantities.items() if n}
    if len(quantities) != 1:
        return None
    ((sku_id, n),) = quantities.items()
    returning = f' RETURNING "{SKU._meta.pk.column}"'
    if refused_by_constraint:
        return _TAKE_ONE_CHECKED_SQL + returning, [n, sku_id]
    return _TAKE_ONE_SQL + returning, [n, sku_id, n]


def stock_take(*, quantities: Mapping[int, int]) -> None:
    """Take `quantities` ({sku_id: n}) from stock, all or nothing. Raises OutOfStock naming the SKU.

    Must run inside the transaction that creates the order, so a rollback returns the stock.
    One SKU: a single conditional UPDATE (its row lock is the only lock). Several SKUs: the rows are
    first locked in primary-key order through `lock_ordered` (no deadlock between two carts sharing
    SKUs), checked, then taken with one conditional UPDATE.
    """
    quantities = {sku_id: n for sku_id, n in quantities.items() if n}
    if not quantities:
        return
    if len(quantities) == 1:
        ((sku_id, n),) = quantities.items()
        with prepared_cursor() as cursor:
            cursor.execute(_TAKE_ONE_SQL, [n, sku_id, n])
            taken = cursor.rowcount
        if taken != 1:
            raise OutOfStock(field=f"sku_{sku_id}")
        return
    locked = lock_ordered(SKU.objects.filter(pk__in=quantities).only("pk", "stock"))
    stock_by_id = {sku.pk: sku.stock for sku in locked}
    for sku_id, n in sorted(quantities.items()):
        if stock_by_id.get(sku_id, 0) < n:
            raise OutOfStock(field=f"sku_{sku_id}")
    condition = Q()
    for sku_id, n in quantities.items():
        condition |= Q(pk=sku_id, stock__gte=n)
    taken = SKU.objects.filter(condition).update(
        stock=F("stock") - Case(*(When(pk=sku_id, then=n) for sku_id, n in quantities.items()))
    )
    if taken != len(quantities):  # cannot happen under the locks; kept as the rule's own check
        raise OutOfStock()


def stock_return(*, quantities: Mapping[int, int]) -> None:
    """Put `quantities` ({sku_id: n}) back, inside the caller's transaction (cancel, return).

    SKUs deleted since ordering are skipped. Rows are locked in primary-key order first when there
    are several, for the same reason as in `stock_take`.
    """
    quantities = {sku_id: n for sku_id, n in quantities.items() if sku_id and n > 0}
    if not quantities:
        return
    assert transaction.get_connection().in_atomic_block, "stock_return needs the caller's transaction"
    if len(quantities) > 1:
        lock_ordered(SKU.objects.filter(pk__in=quantities).only("pk"))
    SKU.objects.filter(pk__in=quantities).update(
        stock=F("stock") + Case(*(When(pk=sku_id, then=n) for sku_id, n in quantities.items()))
    )


def stock_move(*, from_sku_id: int | None, to_sku_id: int, quantity: int) -> None:
    """Move `quantity` units held for an order from one SKU to another, inside the caller's
    transaction: the units go back to `from_sku_id` (skipped when it was deleted) and are taken from
    `to_sku_id`, or nothing happens (OutOfStock naming `to_sku_id`). Both rows are locked in
    primary-key order first, so two moves in opposite directions queue instead of deadlocking."""
    if quantity <= 0 or from_sku_id == to_sku_id:
        return
    assert transaction.get_connection().in_atomic_block, "stock_move needs the caller's transaction"
    ids = [sku_id for sku_id in (from_sku_id, to_sku_id) if sku_id]
    locked = {sku.pk: sku.stock for sku in lock_ordered(SKU.objects.filter(pk__in=ids).only("pk", "stock"))}
    if locked.get(to_sku_id, 0) < quantity:
        raise OutOfStock(field="sku_id")
    SKU.objects.filter(pk=to_sku_id, stock__gte=quantity).update(stock=F("stock") - quantity)
    if from_sku_id in locked:
        SKU.objects.filter(pk=from_sku_id).update(stock=F("stock") + quantity)
