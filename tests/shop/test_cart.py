"""Cart services and pages: add, change, remove with stock checks; anonymous cart merges on sign-in."""

import pytest
from django.http import HttpRequest
from django.urls import reverse

from shop.models import Cart, CartLine
from shop.services.cart import cart_add, cart_get_or_create, cart_merge, cart_set_quantity
from shop.services.errors import InvalidQuantity, NotPurchasable, OutOfStock
from tests.factories import UserFactory
from tests.shop.order_factories import make_sku

pytestmark = pytest.mark.django_db


def test_add_adds_up_and_is_capped_by_stock(shopper):
    sku = make_sku(stock=5)
    cart = cart_get_or_create(user=shopper)
    cart_add(cart=cart, sku_id=sku.pk, quantity=2)
    line = cart_add(cart=cart, sku_id=sku.pk, quantity=3)
    assert line.quantity == 5
    with pytest.raises(OutOfStock):
        cart_add(cart=cart, sku_id=sku.pk, quantity=1)
    assert CartLine.objects.get(cart=cart).quantity == 5


@pytest.mark.parametrize("quantity", [0, -1, 100, "x", None])
def test_bad_quantities_are_refused(shopper, quantity):
    cart = cart_get_or_create(user=shopper)
    with pytest.raises(InvalidQuantity):
        cart_add(cart=cart, sku_id=make_sku().pk, quantity=quantity)
    assert not CartLine.objects.exists()


def test_items_not_on_sale_cannot_be_added(shopper):
    sku = make_sku(is_active=False)
    with pytest.raises(NotPurchasable):
        cart_add(cart=cart_get_or_create(user=shopper), sku_id=sku.pk, quantity=1)
    with pytest.raises(NotPurchasable):
        cart_add(cart=cart_get_or_create(user=shopper), sku_id="abc", quantity=1)


def test_set_quantity_and_zero_removes(shopper):
    sku = make_sku(stock=3)
    cart = cart_get_or_create(user=shopper)
    cart_add(cart=cart, sku_id=sku.pk, quantity=1)
    assert cart_set_quantity(cart=cart, sku_id=sku.pk, quantity=3).quantity == 3
    with pytest.raises(OutOfStock):
        cart_set_quantity(cart=cart, sku_id=sku.pk, quantity=4)
    assert cart_set_quantity(cart=cart, sku_id=sku.pk, quantity=0) is None
    assert not CartLine.objects.exists()


def test_merge_adds_quantities_capped_and_drops_the_anonymous_cart(shopper):
    a, b = make_sku(stock=4), make_sku(stock=10)
    anonymous = cart_get_or_create(session_key="s" * 32)
    cart_add(cart=anonymous, sku_id=a.pk, quantity=3)
    cart_add(cart=anonymous, sku_id=b.pk, quantity=2)
    mine = cart_get_or_create(user=shopper)
    cart_add(cart=mine, sku_id=a.pk, quantity=2)
    cart_merge(anonymous_cart_id=anonymous.pk, user=shopper)
    assert dict(CartLine.objects.filter(cart=mine).values_list("sku_id", "quantity")) == {a.pk: 4, b.pk: 2}
    assert not Cart.objects.filter(pk=anonymous.pk).exists()
    assert cart_merge(anonymous_cart_id=anonymous.pk, user=shopper) is None


def test_anonymous_cart_page_flow_then_sign_in_merges(client, password):
    sku = make_sku(stock=5, title="抹茶卷")
    response = client.post(reverse("shop:cart-add"), {"sku_id": sku.pk, "quantity": 2, "next": "/cart/"})
    assert response.status_code == 302
    page = client.get(reverse("shop:cart"))
    assert "抹茶卷" in page.content.decode()
    user = UserFactory(password=password)
    # The sign-in guard needs a request to count against (django-axes).
    assert client.login(request=HttpRequest(), phone=user.phone, password=password)
    assert CartLine.objects.get(cart__user=user).quantity == 2
    assert not Cart.objects.filter(user__isnull=True).exists()


def test_sign_in_through_the_login_page_merges_too(client, password):
    sku = make_sku(stock=5)
    client.post(reverse("shop:cart-add"), {"sku_id": sku.pk, "quantity": 1})
    user = UserFactory(password=password)
    response = client.post(reverse("accounts:login"), {"username": user.phone, "password": password})
    assert response.status_code == 302
    assert CartLine.objects.filter(cart__user=user, sku=sku).exists()


def test_cart_add_error_is_shown_not_a_500(client):
    sku = make_sku(stock=1)
    response = client.post(reverse("shop:cart-add"), {"sku_id": sku.pk, "quantity": 5}, follow=True)
    assert response.status_code == 200
    assert not CartLine.objects.exists()
    assert list(response.context["messages"])


def test_update_and_remove_pages(client, shopper):
    client.force_login(shopper)
    sku = make_sku(stock=9)
    client.post(reverse("shop:cart-add"), {"sku_id": sku.pk, "quantity": 1})
    client.post(reverse("shop:cart-update"), {"sku_id": sku.pk, "quantity": 4})
    assert CartLine.objects.get().quantity == 4
    client.post(reverse("shop:cart-remove"), {"sku_id": sku.pk})
    assert not CartLine.objects.exists()


def test_cart_page_query_count_is_fixed(client, shopper, django_assert_max_num_queries):
    client.force_login(shopper)
    cart = cart_get_or_create(user=shopper)
    for _ in range(6):
        cart_add(cart=cart, sku_id=make_sku().pk, quantity=1)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("shop:cart"))
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="cart-line"') == 6
