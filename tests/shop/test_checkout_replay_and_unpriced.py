"""Issue 7, defects 5 and 6: a ¥0 SKU is refused where it starts (its price, the cart, checkout),
never reaching a payment that cannot exist; sending a checkout again with its checkout id answers
with the orders it already placed, not "cart empty"."""

import uuid

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from shop.models import SKU, Order, Payment
from shop.services import catalog as catalog_services
from shop.services.cart import cart_add, cart_get_or_create
from shop.services.checkout import checkout_from_cart, checkout_place
from shop.services.errors import EmptyCart, Unpriced
from tests.shop.factories import ShopFactory, product_with_grid
from tests.shop.order_factories import make_buyer, make_sku

pytestmark = pytest.mark.django_db
API = "/api/v1"


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


# --- Defect 5: ¥0 ---------------------------------------------------------------------------------


def test_a_zero_price_sku_cannot_be_checked_out_and_no_order_or_payment_exists():
    buyer = make_buyer()
    free = make_sku(price_fen=0, stock=5, title="赠品")  # a row written before the rule, say
    with pytest.raises(Unpriced) as refused:
        checkout_place(buyer=buyer, address_id=buyer.addresses.get().pk, items=[(free.pk, 1)])
    assert "赠品" in refused.value.message
    assert not Order.objects.exists() and not Payment.objects.exists()
    free.refresh_from_db()
    assert free.stock == 5


def test_the_api_answers_a_zero_price_buy_now_with_400_and_a_message():
    buyer = make_buyer()
    free = make_sku(price_fen=0, stock=5)
    response = api_for(buyer).post(
        f"{API}/checkout/buy-now/",
        {"sku_id": free.pk, "quantity": 1, "address_id": buyer.addresses.get().pk},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unpriced" and response.json()["sku_id"]
    assert not Order.objects.exists()


def test_a_zero_price_sku_cannot_enter_the_cart():
    buyer = make_buyer()
    free = make_sku(price_fen=0, stock=5)
    with pytest.raises(Unpriced):
        cart_add(cart=cart_get_or_create(user=buyer), sku_id=free.pk, quantity=1)


def test_an_active_sku_of_a_product_on_sale_cannot_be_set_to_zero(shop):
    product = product_with_grid(shop=shop, colors=("红色", "蓝色"), sizes=(), price_fen=1000, stock=3)
    sku = product.skus.first()
    with pytest.raises(catalog_services.InvalidPrice):
        catalog_services.sku_update(sku=sku, price_fen=0)
    sku.refresh_from_db()
    assert sku.price_fen == 1000


def test_a_product_with_a_zero_price_active_sku_cannot_go_on_sale(shop):
    product = product_with_grid(shop=shop, colors=("红色", "蓝色"), sizes=(), price_fen=1000, stock=3)
    catalog_services.product_set_status(product=product, status="off_shelf")
    SKU.objects.filter(pk=product.skus.first().pk).update(price_fen=0)
    with pytest.raises(catalog_services.ProductNotSellable):
        catalog_services.product_set_status(product=product, status="on_sale")


# --- Defect 6: the same checkout again --------------------------------------------------------------


def _cart_with_two_shops(buyer):
    cart = cart_get_or_create(user=buyer)
    for shop in (ShopFactory(), ShopFactory()):
        cart_add(cart=cart, sku_id=make_sku(shop=shop, stock=5).pk, quantity=1)
    return cart


def test_checking_out_the_same_cart_again_returns_the_orders_it_placed():
    buyer = make_buyer()
    cart = _cart_with_two_shops(buyer)
    checkout_id = uuid.uuid4()
    address_id = buyer.addresses.get().pk
    first = checkout_from_cart(buyer=buyer, cart=cart, address_id=address_id, checkout_id=checkout_id)
    again = checkout_from_cart(buyer=buyer, cart=cart, address_id=address_id, checkout_id=checkout_id)
    assert [o.number for o in again] == [o.number for o in first] and len(first) == 2
    assert Order.objects.count() == 2
    # Without a checkout id, or with a fresh one, an empty cart is still "nothing to check out".
    with pytest.raises(EmptyCart):
        checkout_from_cart(buyer=buyer, cart=cart, address_id=address_id, checkout_id=uuid.uuid4())


def test_another_buyer_cannot_read_orders_by_replaying_a_checkout_id():
    buyer, stranger = make_buyer(), make_buyer()
    cart = _cart_with_two_shops(buyer)
    checkout_id = uuid.uuid4()
    checkout_from_cart(buyer=buyer, cart=cart, address_id=buyer.addresses.get().pk, checkout_id=checkout_id)
    with pytest.raises(EmptyCart):
        checkout_from_cart(
            buyer=stranger,
            cart=cart_get_or_create(user=stranger),
            address_id=stranger.addresses.get().pk,
            checkout_id=checkout_id,
        )


def test_the_api_answers_a_replayed_checkout_with_its_orders():
    buyer = make_buyer()
    _cart_with_two_shops(buyer)
    body = {"address_id": buyer.addresses.get().pk, "checkout_id": str(uuid.uuid4())}
    client = api_for(buyer)
    first = client.post(f"{API}/checkout/", body, format="json")
    assert first.status_code == 201, first.json()
    again = client.post(f"{API}/checkout/", body, format="json")
    assert again.status_code == 201, again.json()
    assert [o["number"] for o in again.json()] == [o["number"] for o in first.json()]
    assert Order.objects.count() == 2


def test_the_page_answers_a_resent_checkout_form_with_its_orders(client):
    buyer = make_buyer()
    client.force_login(buyer)
    sku = make_sku(stock=5, price_fen=2500)
    client.post(reverse("shop:cart-add"), {"sku_id": sku.pk, "quantity": 1})
    page = client.get(reverse("shop:checkout"))
    data = {
        "address_id": buyer.addresses.get().pk,
        "checkout_id": page.context["form"]["checkout_id"].value(),
    }
    first = client.post(reverse("shop:checkout"), data)
    again = client.post(reverse("shop:checkout"), data)
    order = Order.objects.get()
    assert first.status_code == again.status_code == 302
    assert again["Location"] == first["Location"] == reverse("shop:order-pay", args=[order.number])
