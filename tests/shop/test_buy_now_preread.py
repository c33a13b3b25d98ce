"""A buy-now with an API token reads the token and what the order is made of (SKU, product, shop,
address, the order's id) in one statement before DRF authenticates (shop.services.checkout.
buy_now_preread). Authentication must still decide everything it decided before, and checkout must
use what was read only for the caller, address and SKU it was read for. Real PostgreSQL; committed
rows where the statements are counted (a buy-now outside a transaction is one INSERT)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from shop.models import SKU, Order
from shop.services.checkout import buy_now_preread, checkout_buy_now
from shop.services.errors import AddressRequired
from tests.factories import AddressFactory
from tests.shop.order_factories import make_buyer, make_sku

BUY_NOW = "/api/v1/checkout/buy-now/"


def _token(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def _api(key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db(transaction=True)
def test_a_buy_now_with_a_token_is_three_statements_and_places_the_order():
    buyer, sku = make_buyer(), make_sku(stock=5, price_fen=990)
    body = {"sku_id": sku.pk, "quantity": 2, "address_id": buyer.addresses.get().pk}
    api = _api(_token(buyer))
    with CaptureQueriesContext(connection) as captured:
        answer = api.post(BUY_NOW, body, format="json")
    assert answer.status_code == 201, answer.content
    # Token, user, SKU, product, shop, address and the order's id; attribution; the one INSERT.
    assert len(captured) == 3, [q["sql"][:60] for q in captured]
    order = Order.objects.get(number=answer.json()["number"])
    assert (order.buyer_id, order.total_fen, order.recipient_name) == (buyer.pk, 1980, "张三")
    assert SKU.objects.get(pk=sku.pk).stock == 3


@pytest.mark.django_db
def test_authentication_still_decides_as_before():
    buyer, sku = make_buyer(), make_sku(stock=5)
    body = {"sku_id": sku.pk, "quantity": 1, "address_id": buyer.addresses.get().pk}
    # DRF answers a refused token 403 here (session authentication comes first, with no challenge).
    refused = (401, 403)
    assert _api("0" * 40).post(BUY_NOW, body, format="json").status_code in refused  # no such token
    assert _api().post(BUY_NOW, body, format="json").status_code in (401, 403)  # none at all
    key = _token(buyer)
    User.objects.filter(pk=buyer.pk).update(is_active=False)
    inactive = _api(key).post(BUY_NOW, body, format="json")
    assert inactive.status_code in refused
    # A body that is not JSON: refused for a bad token first, 400 for a good one, as DRF answers.
    garbage = {"data": "{not json", "content_type": "application/json"}
    assert _api("0" * 40).post(BUY_NOW, **garbage).status_code in refused
    User.objects.filter(pk=buyer.pk).update(is_active=True)
    unparsable = _api(key).post(BUY_NOW, **garbage)
    assert unparsable.status_code == 400 and "JSON" in unparsable.json()["detail"]
    assert not Order.objects.exists() and SKU.objects.get(pk=sku.pk).stock == 5


@pytest.mark.django_db
def test_another_buyers_address_a_missing_sku_and_impossible_ids_are_refused():
    buyer, other, sku = make_buyer(), make_buyer(), make_sku(stock=5)
    api = _api(_token(buyer))
    theirs = api.post(BUY_NOW, {"sku_id": sku.pk, "address_id": other.addresses.get().pk}, format="json")
    assert theirs.status_code == 400 and "address_id" in theirs.json(), theirs.json()
    missing = api.post(
        BUY_NOW, {"sku_id": 999_999_999, "address_id": buyer.addresses.get().pk}, format="json"
    )
    assert missing.status_code == 400 and "sku_id" in missing.json(), missing.json()
    # No SKU row to carry the address: a wrong address is still the one named.
    both = api.post(BUY_NOW, {"sku_id": 999_999_999, "address_id": 999_999_999}, format="json")
    assert both.status_code == 400 and "address_id" in both.json(), both.json()
    huge = api.post(BUY_NOW, {"sku_id": 2**70, "address_id": 2**70}, format="json")
    assert huge.status_code == 400
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_preread_serves_only_the_buyer_address_and_sku_it_was_read_for():
    buyer, sku, other_sku = make_buyer(), make_sku(stock=5), make_sku(stock=5, price_fen=4200)
    address = buyer.addresses.get()
    second = AddressFactory(user=buyer, recipient_name="李四", is_default=False)
    token, preread = buy_now_preread(key=_token(buyer), sku_id=sku.pk, address_id=address.pk)
    assert token.user_id == buyer.pk and preread.rows
    # Another SKU or address than the one read: checkout reads them itself.
    order = checkout_buy_now(
        buyer=buyer, sku_id=other_sku.pk, quantity=1, address_id=second.pk, preread=preread
    )
    assert (order.total_fen, order.recipient_name) == (4200, "李四")
    # Another buyer handed it: not theirs to use, their own address is required.
    stranger = make_buyer()
    with pytest.raises(AddressRequired):
        checkout_buy_now(buyer=stranger, sku_id=sku.pk, quantity=1, address_id=address.pk, preread=preread)
    assert buy_now_preread(key="0" * 40, sku_id=sku.pk, address_id=address.pk) == (None, None)
