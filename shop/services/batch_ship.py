"""Shipping many orders from a spreadsheet (order number, carrier, tracking number), all or nothing.

The sheet is read at the edge (shop/admin/batch_ship.py); here every row is checked and, only when
every row is good, all are shipped in one transaction through `orders_ship_many`, the service that
ships one order at a time from the order page, so events, notifications and signals are the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from shop.models import Order
from shop.services.orders import orders_ship_many

MAX_ROWS = 2000


@dataclass
class ShipRow:
    """One row of the sheet. `line` is its row number in the sheet (the header is row 1)."""

    line: int
    number: str
    carrier: str
    tracking_number: str
    error: str = ""
    order_id: int | None = None


def orders_ship_batch(*, rows: list[ShipRow], actor, shop_ids: Iterable[int] | None, apply: bool) -> bool:
    """Check every row; with `apply`, ship them all if, and only if, every row is good.

    Each row's `error` is filled with what is wrong with it: a blank cell, a number given twice,
    an order that is not found (another shop's order is "not found" too, so a sheet reveals nothing
    about other shops), or the ship service's own refusal (not paid, refund or after-sales open...).
    The ship service runs in every case, inside a transaction that is rolled back unless `apply` and
    every row passed, so the preview checks exactly what applying would do. Takes the order locks
    through `order_ship` (one order at a time, in sheet order) until the transaction ends.
    Returns True when the orders were shipped. Applying the same sheet again changes nothing
    (an order already shipped with that tracking number is left as it is).
    """
    shop_ids = list(shop_ids) if shop_ids is not None else None
    if len(rows) > MAX_ROWS:
        for row in rows[MAX_ROWS:]:
            row.error = _("At most %(n)d rows per sheet.") % {"n": MAX_ROWS}
    seen: dict[str, int] = {}
    for row in rows:
        if row.error:
            continue
        if not row.number:
            row.error = _("Enter the order number.")
        elif not row.carrier:
            row.error = _("Enter the carrier.")
        elif not row.tracking_number:
            row.error = _("Enter the tracking number.")
        elif row.number in seen:
            row.error = _("Order %(number)s is already on row %(line)d.") % {
                "number": row.number,
                "line": seen[row.number],
            }
        else:
            seen[row.number] = row.line
    orders = Order.objects.filter(number__in=list(seen))
    if shop_ids is not None:
        orders = orders.filter(shop_id__in=shop_ids)
    ids_by_number = dict(orders.values_list("number", "pk"))
    for row in rows:
        if not row.error:
            row.order_id = ids_by_number.get(row.number)
            if row.order_id is None:
                row.error = _("Order %(number)s not found.") % {"number": row.number}
    good = [row for row in rows if not row.error]
    with transaction.atomic():
        outcome = orders_ship_many(
            shipments=[(row.order_id, row.carrier, row.tracking_number) for row in good],
            actor=actor,
            shop_ids=shop_ids,
        )
        for row in good:
            refusal = outcome.get(row.order_id)
            if refusal is not None:
                row.error = refusal.message
        applied = apply and bool(rows) and not any(row.error for row in rows)
        if not applied:
            transaction.set_rollback(True)
    return applied
