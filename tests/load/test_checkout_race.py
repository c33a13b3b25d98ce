"""Real concurrency on PostgreSQL: threads, each with its own connection, racing for stock.

Proves the stock rule (conditional UPDATE in the order's transaction, constraint behind it) and the
lock ordering (several SKUs locked in primary-key order: no deadlock when carts overlap)."""

import threading

import pytest
from django.db import connection

from config.exceptions import DomainError
from shop.models import SKU, Order, OrderLine
from shop.services.checkout import checkout_place
from tests.factories import AddressFactory, UserFactory
from tests.shop.order_factories import make_sku

pytestmark = pytest.mark.django_db(transaction=True)


def race(workers: int, work) -> tuple[list, list]:
    """Run work(i) in `workers` threads released together; returns (results, errors)."""
    barrier = threading.Barrier(workers)
    results, errors, lock = [], [], threading.Lock()

    def run(i):
        try:
            barrier.wait()
            outcome = work(i)
            with lock:
                results.append(outcome)
        except Exception as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def buyers(n):
    people = [UserFactory() for _ in range(n)]
    return [(person, AddressFactory(user=person).pk) for person in people]


def test_fifty_buyers_race_for_the_last_ten_units():
    sku = make_sku(stock=10, price_fen=990)
    people = buyers(50)

    def buy(i):
        person, address_id = people[i]
        return checkout_place(buyer=person, address_id=address_id, items=[(sku.pk, 1)])

    results, errors = race(50, buy)
    assert len(results) == 10
    assert len(errors) == 40 and all(isinstance(e, DomainError) and e.code == "out_of_stock" for e in errors)
    sku.refresh_from_db()
    assert sku.stock == 0
    assert Order.objects.count() == 10
    assert sum(OrderLine.objects.values_list("quantity", flat=True)) == 10


def test_buyers_asking_for_several_units_never_oversell():
    sku = make_sku(stock=25)
    people = buyers(30)

    def buy(i):
        person, address_id = people[i]
        return checkout_place(buyer=person, address_id=address_id, items=[(sku.pk, 1 + i % 3)])

    results, errors = race(30, buy)
    sold = sum(OrderLine.objects.values_list("quantity", flat=True))
    sku.refresh_from_db()
    assert sold + sku.stock == 25 and sku.stock >= 0
    assert all(isinstance(e, DomainError) for e in errors)


def test_overlapping_carts_in_opposite_orders_do_not_deadlock():
    skus = [make_sku(stock=1000) for _ in range(4)]
    people = buyers(24)

    def buy(i):
        person, address_id = people[i]
        chosen = skus if i % 2 else list(reversed(skus))
        return checkout_place(buyer=person, address_id=address_id, items=[(s.pk, 1) for s in chosen])

    results, errors = race(24, buy)
    assert errors == [] and len(results) == 24
    assert list(SKU.objects.filter(pk__in=[s.pk for s in skus]).values_list("stock", flat=True)) == [976] * 4
