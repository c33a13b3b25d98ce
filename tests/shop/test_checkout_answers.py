"""Checkout's answers and after-commit work, kept cheap: the placed orders render from memory with the
same shape as every other order answer, and the catalog caches follow in one Redis round trip
without asking the database again."""

import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.cache import redis_client
from shop.api.order_serializers import OrderOutputSerializer, PlacedOrderOutputSerializer
from shop.catalog_cache import API_KIND, layered_key, product_key
from shop.catalog_cache import GENERATION_KEY as CATALOG_GENERATION_KEY
from shop.models import Order
from shop.services.checkout import checkout_place
from tests.shop.factories import ShopFactory
from tests.shop.order_factories import celery_eager, make_buyer, make_sku  # noqa: F401

pytestmark = pytest.mark.django_db
API = "/api/v1"


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _from_database(number: str) -> Order:
    return Order.objects.select_related("shop").prefetch_related("lines").get(number=number)


def test_placed_order_answer_has_the_order_answers_shape_for_every_field():
    buyer = make_buyer()
    sku = make_sku(stock=5, price_fen=1234)
    (order,) = checkout_place(
        buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 2)], note="轻放"
    )
    # Every optional field filled in, and one left empty (checkout_id None), as later states have.
    now = timezone.now()
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.CANCELLED,
        paid_at=now,
        shipped_at=now,
        received_at=now,
        completed_at=now,
        cancelled_at=now,
        cancel_reason="不要了",
        carrier="顺丰",
        tracking_number="SF1",
        checkout_id=None,
    )
    for candidate in (order, _from_database(order.number)):
        assert PlacedOrderOutputSerializer(candidate).data == OrderOutputSerializer(candidate).data
    assert (
        PlacedOrderOutputSerializer([order], many=True).data == OrderOutputSerializer([order], many=True).data
    )


def test_checkout_answers_from_memory_match_what_was_stored(django_assert_max_num_queries):
    buyer = make_buyer()
    api = api_for(buyer)
    shops = [ShopFactory(), ShopFactory()]
    skus = [make_sku(shop=shop, stock=5) for shop in shops]
    for sku in skus:
        api.post(f"{API}/cart/items/", {"sku_id": sku.pk, "quantity": 2}, format="json")
    body = {"address_id": buyer.addresses.get().pk, "checkout_id": str(uuid.uuid4())}
    response = api.post(f"{API}/checkout/", body, format="json")
    assert response.status_code == 201, response.json()
    answered = response.json()
    assert len(answered) == 2
    for order in answered:
        assert order == OrderOutputSerializer(_from_database(order["number"])).data
    # The same key again (through the service: the API's cart is empty by now): the same orders,
    # loaded with their shops and lines, so rendering them asks nothing more: address, SKUs, buyer
    # lock, orders with shops, their lines (+ the savepoint and its release in this test).
    with django_assert_max_num_queries(7):
        repeated = checkout_place(
            buyer=buyer,
            address_id=body["address_id"],
            items=[(sku.pk, 2) for sku in skus],
            checkout_id=body["checkout_id"],
        )
        assert PlacedOrderOutputSerializer(repeated, many=True).data == answered

    sku = make_sku(stock=5)
    bought = api.post(
        f"{API}/checkout/buy-now/", {"sku_id": sku.pk, "address_id": body["address_id"]}, format="json"
    )
    assert bought.status_code == 201
    assert bought.json() == OrderOutputSerializer(_from_database(bought.json()["number"])).data


def test_buy_now_within_its_query_budget(django_capture_on_commit_callbacks):
    buyer = make_buyer()
    api = api_for(buyer)
    sku = make_sku(stock=5)
    address_id = buyer.addresses.get().pk
    api.get(f"{API}/cart/")  # the token is made; the request below is a buyer's usual one
    with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{API}/checkout/buy-now/", {"sku_id": sku.pk, "address_id": address_id}, format="json"
        )
    assert response.status_code == 201
    # Token, address, SKU with its product, shop and first image, then the transaction: order, the
    # checkout line hooks (affiliates' attribution lookup: one statement), line, event, stock UPDATE
    # (+ savepoint statements of the test's own transaction). Nothing after commit.
    statements = [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(statements) <= 8, "\n".join(sql[:100] for sql in statements)


@pytest.mark.usefixtures("celery_eager")
def test_placing_an_order_drops_only_its_products_parts_not_every_list_page(
    django_capture_on_commit_callbacks,
):
    """Issue 7: one order no longer retires every cached list page. It drops the page and API entries
    of the products it sold (stock moved), in every language, and leaves lists and other products be."""
    buyer = make_buyer()
    sku = make_sku(stock=5)
    pages = [
        product_key("page", sku.product_id, "zh-hans"),
        product_key("page", sku.product_id, "en"),
        product_key(API_KIND, sku.product_id, "zh-hans"),
        layered_key(product_key("page", sku.product_id, "zh-hans")),
        layered_key(product_key("page", sku.product_id, "en")),
    ]
    other = product_key("page", sku.product_id + 1000, "zh-hans")
    cache.set_many({**dict.fromkeys(pages, "stale"), other: "fresh"})
    cache.set(CATALOG_GENERATION_KEY, 41, timeout=None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(sku.pk, 1)])
    # Nothing is dropped in the request: order_placed is announced through the outbox, and the
    # catalog's receiver runs in a worker (here in-process, as Celery runs tasks eagerly).
    assert cache.get_many(pages) == dict.fromkeys(pages, "stale")
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    assert cache.get_many(pages) == {}
    assert cache.get(other) == "fresh"
    assert cache.get(CATALOG_GENERATION_KEY) == 41  # list pages stay
    assert redis_client().ttl(cache.make_key(CATALOG_GENERATION_KEY)) == -1  # still kept for good


def test_ids_no_row_can_have_are_refused_as_bad_input():
    buyer = make_buyer()
    api = api_for(buyer)
    sku = make_sku(stock=5)
    address_id = buyer.addresses.get().pk
    for body in (
        {"sku_id": sku.pk, "address_id": 2**63},
        {"sku_id": 2**63, "address_id": address_id},
        {"sku_id": 2**70, "address_id": 2**70},
    ):
        response = api.post(f"{API}/checkout/buy-now/", body, format="json")
        assert response.status_code == 400, response.content
    assert not Order.objects.exists()
    sku.refresh_from_db()
    assert sku.stock == 5


def test_api_checkout_of_a_three_line_cart_within_the_bench_budget(django_assert_max_num_queries):
    """`make bench`'s checkout_queries, pinned (goal ≤ 15): the caller's token and user in one
    statement, the buyer's cart lines with the cart's id in one, address, SKUs, transaction, buyer
    lock, idempotency check, orders, the attribution lookup (affiliates' checkout hook), lines,
    events with their announcement, cart lines delete, SKU lock, stock update, commit."""
    buyer = make_buyer()
    api = api_for(buyer)
    shop = ShopFactory()
    for sku in [make_sku(shop=shop, stock=10) for _ in range(3)]:
        assert (
            api.post(f"{API}/cart/items/", {"sku_id": sku.pk, "quantity": 1}, format="json").status_code
            == 201
        )
    body = {"address_id": buyer.addresses.get().pk, "checkout_id": str(uuid.uuid4())}
    # BEGIN and COMMIT count, as in the bench; the test's own atomic block turns them into savepoints.
    with django_assert_max_num_queries(15):
        response = api.post(f"{API}/checkout/", body, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()) == 1 and len(response.json()[0]["lines"]) == 3
    assert not buyer.cart.lines.exists()
    again = api.post(f"{API}/checkout/", body, format="json")  # the same key: the same order
    assert again.status_code == 201 and again.json()[0]["number"] == response.json()[0]["number"]
