"""Two orders never get the same number, even when the random part of two numbers drawn in the
same second clashes: the insert skips a taken number and draws again (issue 7). Real threads
against PostgreSQL; the random source is narrowed so clashes happen on every run."""

import itertools
import random
import threading

import pytest
from django.db import connection

from shop.models import Order
from shop.services import checkout as checkout_services
from shop.services.checkout import checkout_place
from tests.shop.factories import ShopFactory
from tests.shop.order_factories import make_buyer, make_sku

pytestmark = pytest.mark.django_db(transaction=True)


def narrow_draws(monkeypatch, *, repeat: int) -> None:
    """The first `repeat` draws all give the same 8 digits; later draws come from 100 values only."""
    lock = threading.Lock()
    first = itertools.count()
    rng = random.Random(7)

    def randbelow(_upper):
        with lock:
            return 42 if next(first) < repeat else rng.randrange(100)

    monkeypatch.setattr(checkout_services.secrets, "randbelow", randbelow)


@pytest.fixture
def clashing_numbers(monkeypatch):
    """Every thread's first draw gives the same 8 digits, so each checkout's first order clashes
    with the other threads' (committed or still in flight); later draws come from 1,000 values.

    Forcing the repeat per thread, not for the first N draws overall, matters: checkouts of the
    same SKUs queue on the stock lock, so one thread could otherwise take every forced repeat and
    clash with itself more times than the insert is allowed to retry."""
    lock, seen = threading.Lock(), threading.local()
    rng = random.Random(7)

    def randbelow(_upper):
        if not getattr(seen, "drawn", False):
            seen.drawn = True
            return 42
        with lock:
            return rng.randrange(1000)

    monkeypatch.setattr(checkout_services.secrets, "randbelow", randbelow)


@pytest.mark.usefixtures("clashing_numbers")
def test_concurrent_checkouts_with_clashing_numbers_all_succeed_with_distinct_numbers():
    skus = [make_sku(shop=ShopFactory(), stock=100) for _shop in range(2)]
    buyers = [make_buyer() for _ in range(10)]
    barrier = threading.Barrier(len(buyers))
    errors = []

    def buy(buyer):
        try:
            barrier.wait()
            checkout_place(
                buyer=buyer,
                address_id=buyer.addresses.get().pk,
                items=[(sku.pk, 1) for sku in skus],  # two shops: two orders per checkout
            )
        except Exception as error:  # noqa: BLE001 - every failure is the test's finding
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(buyer,)) for buyer in buyers]
    [thread.start() for thread in threads]
    [thread.join(60) for thread in threads]
    assert errors == []
    numbers = list(Order.objects.values_list("number", flat=True))
    assert len(numbers) == 20 and len(set(numbers)) == 20


def test_a_number_already_taken_is_drawn_again(monkeypatch):
    narrow_draws(monkeypatch, repeat=2)  # the second checkout's first draw repeats the first's
    buyer = make_buyer()
    sku = make_sku(stock=10)
    (first,) = checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 1)])
    (second,) = checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 1)])
    assert first.number.endswith("00000042")
    assert second.number != first.number and Order.objects.count() == 2
    assert Order.objects.get(pk=second.pk).number == second.number
