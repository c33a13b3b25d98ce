"""A "buy now" of one SKU with no idempotency key, outside any transaction, is written by one statement
(order, line, event, outbox message and stock together, no BEGIN or COMMIT round trips). What a
transaction would roll back must then never be written at all: short stock, a taken order number and
a SKU deleted meanwhile each leave nothing behind. Real PostgreSQL, committed rows (transaction=True)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outbox.models import Message
from shop import hooks
from shop.models import SKU, Order, OrderEvent, OrderLine
from shop.services import checkout as checkout_services
from shop.services.checkout import checkout_buy_now
from shop.services.errors import NotPurchasable, OutOfStock
from tests.shop.order_factories import make_buyer, make_sku

pytestmark = pytest.mark.django_db(transaction=True)


def _nothing_written():
    return not (
        Order.objects.exists()
        or OrderLine.objects.exists()
        or OrderEvent.objects.exists()
        or Message.objects.filter(handler__contains="catalog_cache_follows_orders").exists()
    )


def test_a_buy_now_outside_a_transaction_writes_everything_in_one_statement():
    buyer, sku = make_buyer(), make_sku(stock=5)
    address_id = buyer.addresses.get().pk
    with CaptureQueriesContext(connection) as captured:
        order = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=2, address_id=address_id)
    # The SKUs with the address, the attribution lookup, then one statement; no savepoint.
    assert len(captured) == 3, [q["sql"][:80] for q in captured]
    with connection.cursor() as cursor:  # prepared: EXECUTE <name>(...) stands for the text
        cursor.execute("SELECT name, statement FROM pg_prepared_statements")
        prepared = dict(cursor.fetchall())
    last = prepared[captured[-1]["sql"][len("EXECUTE ") :].split("(", 1)[0]]
    assert 'INSERT INTO "shop_order" ' in last and 'INSERT INTO "outbox_message"' in last
    # Outside a transaction the stock is taken unconditionally, its CheckConstraint the only guard.
    taken = last[last.index('UPDATE "shop_sku"') :]
    assert ">=" not in taken.split("RETURNING")[0]
    sku.refresh_from_db()
    assert sku.stock == 3
    assert Order.objects.get().pk == order.pk and order.lines.get().quantity == 2
    assert OrderEvent.objects.get(order=order).kind == OrderEvent.Kind.PLACED
    assert Message.objects.filter(payload__order_ids=[order.pk]).count() == 1


def test_stock_it_cannot_cover_refuses_the_sale_and_writes_nothing():
    buyer, sku = make_buyer(), make_sku(stock=1)
    with pytest.raises(OutOfStock) as refused:
        checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=2, address_id=buyer.addresses.get().pk)
    assert refused.value.field == f"sku_{sku.pk}"
    assert _nothing_written()
    sku.refresh_from_db()
    assert sku.stock == 1


def test_a_taken_order_number_writes_nothing_and_the_next_draw_places_the_order(monkeypatch):
    buyer, sku = make_buyer(), make_sku(stock=5)
    first = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=buyer.addresses.get().pk)
    # The next checkout draws the first order's number twice, then a free one.
    fresh = "99" + first.number[2:]
    numbers = iter([first.number, first.number, fresh])
    monkeypatch.setattr(checkout_services, "order_number_generate", lambda now=None: next(numbers))
    again = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=buyer.addresses.get().pk)
    assert again.number == fresh
    assert Order.objects.count() == 2 and OrderLine.objects.count() == 2 and OrderEvent.objects.count() == 2
    sku.refresh_from_db()
    assert sku.stock == 3  # taken once per placed order, not per attempt


def test_a_sku_deleted_meanwhile_is_refused_and_nothing_is_written():
    buyer, sku = make_buyer(), make_sku(stock=5)

    def delete_the_sku(**kwargs):  # runs after checkout read the SKU, before it writes
        SKU.objects.filter(pk=sku.pk).delete()

    hooks.register_checkout_line_hook(delete_the_sku)
    try:
        with pytest.raises(NotPurchasable):
            checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=buyer.addresses.get().pk)
    finally:
        hooks.checkout_line_hooks.remove(delete_the_sku)
    assert _nothing_written()
