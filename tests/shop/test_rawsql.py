"""shop.services.rawsql writes NULLs and empty strings into its INSERTs instead of sending them as
parameters. The rows must read back exactly as the ORM would have written them, and a buy-now's one
statement must stay within psycopg's 50 parameters, past which psycopg parses the statement again on
every checkout instead of remembering it. Values that already have their column's Python type are
written without asking their field, and must come out as the field would have made them."""

import pytest
from django.db import connection
from django.utils import timezone

from outbox.models import Message
from shop.models import Order, OrderEvent, OrderLine
from shop.services.checkout import checkout_buy_now
from shop.services.rawsql import EMPTY, NULL, _insert_plan, _row_params, insert_many, insert_together
from tests.shop.order_factories import make_buyer, make_sku

pytestmark = pytest.mark.django_db


def _parameters_sent():
    sent = []

    def wrapper(execute, sql, params, many, context):
        sent.append((sql, len(params or ())))
        return execute(sql, params, many, context)

    return sent, wrapper


def test_nulls_and_empty_strings_written_into_the_statement_read_back_as_given():
    buyer, sku = make_buyer(), make_sku(stock=5)
    order = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=buyer.addresses.get().pk)
    now = timezone.now()
    # Two events of one statement, the same columns NULL or empty in one and set in the other.
    quiet = OrderEvent(order=order, actor=None, kind=OrderEvent.Kind.PAID, note="", data={})
    told = OrderEvent(
        order=order, actor=buyer, kind=OrderEvent.Kind.PAID, from_status="pending_payment", note="有备注"
    )
    # An empty string inside a JSON value travels as a parameter like any other JSON.
    told.data = {"note": ""}
    copy = Order(
        number="X" + order.number[1:],
        buyer=buyer,
        shop=order.shop,
        items_fen=990,
        total_fen=990,
        payment_deadline=now,
    )
    insert_together([quiet, told], [copy])
    quiet_row, told_row = OrderEvent.objects.filter(pk__in=[quiet.pk, told.pk]).order_by("pk")
    assert (quiet_row.actor_id, quiet_row.note, quiet_row.from_status, quiet_row.data) == (None, "", "", {})
    assert (told_row.actor_id, told_row.note, told_row.from_status) == (buyer.pk, "有备注", "pending_payment")
    assert told_row.data == {"note": ""}
    assert quiet_row.created_at >= now
    copy = Order.objects.get(number="X" + order.number[1:])
    assert copy.paid_at is None and copy.carrier == "" and copy.recipient_name == ""


def test_insert_many_writes_rows_whose_empty_columns_differ():
    buyer, sku = make_buyer(), make_sku(stock=5)
    order = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=buyer.addresses.get().pk)
    events = [
        OrderEvent(order=order, actor=buyer if i % 2 else None, kind=OrderEvent.Kind.PAID, note="x" * i)
        for i in range(3)
    ]
    insert_many(events)
    stored = {e.pk: (e.actor_id, e.note) for e in OrderEvent.objects.filter(pk__in=[e.pk for e in events])}
    assert stored == {e.pk: (e.actor_id, e.note) for e in events}
    assert stored[events[0].pk] == (None, "")


def test_a_buy_now_statement_stays_within_the_parameters_psycopg_remembers():
    buyer, sku = make_buyer(), make_sku(stock=5)
    sent, wrapper = _parameters_sent()
    with connection.execute_wrapper(wrapper):
        checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=buyer.addresses.get().pk)
    assert sent and max(count for _sql, count in sent) <= 50, sent


def _as_django_writes(obj, plan):
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field, _attname, _kind in plan]


def _as_written(obj, plan):
    params: list = []
    marks = _row_params(obj, plan, connection, params)
    values = iter(params)
    return [None if mark == NULL else "" if mark == EMPTY else next(values) for mark in marks]


def _literal(value):
    with connection.cursor() as cursor:
        return cursor.cursor.mogrify("%s", [value])


def _comparable(value):
    return getattr(value, "obj", value)  # a JSON value travels wrapped (psycopg's Jsonb)


def test_every_value_is_written_as_djangos_own_insert_would_write_it():
    buyer, sku = make_buyer(), make_sku(stock=5)
    order = checkout_buy_now(buyer=buyer, sku_id=sku.pk, quantity=1, address_id=buyer.addresses.get().pk)
    line = order.lines.get()
    rows = [
        (Order, True, order),
        (OrderLine, False, line),
        # Values of another type than the column's go through the field, as Django's INSERT does.
        (
            OrderLine,
            False,
            OrderLine(
                order=order,
                sku_id=str(sku.pk),
                product_id=sku.product_id,
                title="标题",
                unit_price_fen="990",
                quantity="2",
                total_fen=1980,
            ),
        ),
        (OrderEvent, False, OrderEvent(order=order, actor=None, kind=OrderEvent.Kind.PAID, data={"a": 1})),
        (Message, False, Message.objects.filter(payload__order_ids=[order.pk]).get()),
    ]
    for model, keyed, obj in rows:
        plan = _insert_plan(model, keyed)
        timestamps = {i for i, (field, _a, _k) in enumerate(plan) if getattr(field, "auto_now_add", False)}
        written, django = _as_written(obj, plan), _as_django_writes(obj, plan)
        assert len(written) == len(django) == len(plan)
        for i, (ours, theirs) in enumerate(zip(written, django, strict=True)):
            if i in timestamps:  # stamped again by each pre_save
                assert ours is not None and theirs is not None
                continue
            assert _comparable(ours) == _comparable(theirs), (model.__name__, plan[i][1], ours, theirs)
            # What the statement carries: the same SQL literal (Django wraps integers as psycopg's
            # Int8 and the like, for server-side binding; with client-side binding both read 1000).
            assert _literal(ours) == _literal(theirs), (model.__name__, plan[i][1])
    assert OrderLine._meta.get_field("quantity") in [
        field for field, _a, kind in _insert_plan(OrderLine) if kind
    ]
