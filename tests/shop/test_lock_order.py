"""The lock order rule (shop.services.locking): the order, the after-sales request, then the payment
and refunds, then SKUs. After-sales approval with restock used to put the stock back (locking SKU
rows) before locking the payment."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.models import SKU, Payment
from shop.services.aftersales import after_sales_approve, after_sales_create
from tests.shop.order_factories import make_sku, pay_order, place_order

pytestmark = pytest.mark.django_db


def _first(queries, pattern) -> int:
    for index, query in enumerate(queries):
        if re.search(pattern, query["sql"], re.IGNORECASE | re.DOTALL):
            return index
    raise AssertionError(f"no query matches {pattern}")


def test_after_sales_approval_locks_the_payment_before_touching_skus(django_capture_on_commit_callbacks):
    sku = make_sku(price_fen=1000, stock=5)
    order = pay_order(place_order(sku=sku, quantity=2))
    request = after_sales_create(
        buyer=order.buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="refund_only",
        quantity=1,
        reason="不要了",
    )
    payment_table, sku_table = Payment._meta.db_table, SKU._meta.db_table
    with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=False):
        after_sales_approve(request_id=request.pk, actor=order.shop.owner, restock=True)
    queries = captured.captured_queries
    payment_lock = _first(queries, rf'FROM "{payment_table}".*FOR UPDATE')
    sku_write = _first(queries, rf'(UPDATE "{sku_table}"|FROM "{sku_table}".*FOR UPDATE)')
    assert payment_lock < sku_write, [q["sql"][:80] for q in queries]
    sku.refresh_from_db()
    assert sku.stock == 5 - 2 + 1
