"""Buyer pages: checkout (cart and buy-now), my orders with tabs, order detail, cancel, confirm receipt.
Other people's orders are 404; bad input re-shows the form; query counts are fixed."""

import pytest
from django.urls import reverse

from shop.models import CartLine, Order
from shop.services.cart import cart_add, cart_get_or_create
from tests.factories import AddressFactory
from tests.shop.factories import ShopFactory
from tests.shop.order_factories import make_buyer, make_sku, pay_order, place_order, ship_order

pytestmark = pytest.mark.django_db


def test_checkout_page_places_one_order_and_goes_to_pay(client):
    buyer = make_buyer()
    client.force_login(buyer)
    sku = make_sku(stock=5, price_fen=2500, title="芒果班戟")
    client.post(reverse("shop:cart-add"), {"sku_id": sku.pk, "quantity": 2})
    page = client.get(reverse("shop:checkout"))
    assert page.status_code == 200 and "芒果班戟" in page.content.decode()
    form = page.context["form"]
    data = {
        "address_id": buyer.addresses.get().pk,
        "checkout_id": form["checkout_id"].value(),
        f"note_{sku.product.shop_id}": "请尽快",
    }
    response = client.post(reverse("shop:checkout"), data)
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "shop:order-pay", args=[order.number]
    )
    assert order.total_fen == 5000 and order.note == "请尽快"
    # The same form sent twice (double tap) places nothing more.
    client.post(reverse("shop:checkout"), data)
    assert Order.objects.count() == 1


def test_checkout_two_shops_goes_to_one_pay_page_for_both(client):
    buyer = make_buyer()
    client.force_login(buyer)
    for shop in (ShopFactory(), ShopFactory()):
        client.post(reverse("shop:cart-add"), {"sku_id": make_sku(shop=shop).pk, "quantity": 1})
    page = client.get(reverse("shop:checkout"))
    response = client.post(
        reverse("shop:checkout"),
        {"address_id": buyer.addresses.get().pk, "checkout_id": page.context["form"]["checkout_id"].value()},
    )
    first = Order.objects.order_by("pk").first()
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:order-pay", args=[first.number])
    assert Order.objects.count() == 2 and len(set(Order.objects.values_list("checkout_id", flat=True))) == 1


def test_checkout_out_of_stock_reshows_the_form_with_the_error(client):
    buyer = make_buyer()
    client.force_login(buyer)
    sku = make_sku(stock=2)
    client.post(reverse("shop:cart-add"), {"sku_id": sku.pk, "quantity": 2})
    page = client.get(reverse("shop:checkout"))
    sku.stock = 1
    sku.save()
    response = client.post(
        reverse("shop:checkout"),
        {"address_id": buyer.addresses.get().pk, "checkout_id": page.context["form"]["checkout_id"].value()},
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert not Order.objects.exists() and CartLine.objects.exists()


def test_checkout_with_someone_elses_address_is_refused(client):
    buyer = make_buyer()
    client.force_login(buyer)
    client.post(reverse("shop:cart-add"), {"sku_id": make_sku().pk, "quantity": 1})
    page = client.get(reverse("shop:checkout"))
    response = client.post(
        reverse("shop:checkout"),
        {"address_id": AddressFactory().pk, "checkout_id": page.context["form"]["checkout_id"].value()},
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert not Order.objects.exists()


def test_buy_now_skips_the_cart(client):
    buyer = make_buyer()
    client.force_login(buyer)
    sku = make_sku(stock=3)
    response = client.post(reverse("shop:buy-now"), {"sku_id": sku.pk, "quantity": 2})
    assert response.status_code == 302 and "mode=buy_now" in response["Location"]
    page = client.get(response["Location"])
    assert page.status_code == 200
    client.post(
        response["Location"],
        {"address_id": buyer.addresses.get().pk, "checkout_id": page.context["form"]["checkout_id"].value()},
    )
    order = Order.objects.get()
    assert order.lines.get().quantity == 2 and not CartLine.objects.exists()


def test_buy_now_signed_out_goes_to_sign_in_and_keeps_the_choice(client):
    sku = make_sku(stock=3)
    response = client.post(reverse("shop:buy-now"), {"sku_id": sku.pk, "quantity": 1})
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert client.session["buy_now"] == {"sku_id": sku.pk, "quantity": 1}


def test_buy_now_bad_input_is_a_message_not_a_500(client):
    response = client.post(reverse("shop:buy-now"), {"sku_id": "x", "quantity": 1}, follow=True)
    assert response.status_code == 200 and list(response.context["messages"])


def test_my_orders_tabs_and_fixed_query_count(client, django_assert_max_num_queries):
    buyer = make_buyer()
    client.force_login(buyer)
    for _ in range(3):
        place_order(buyer=buyer)
    for _ in range(3):
        pay_order(place_order(buyer=buyer))
    place_order()  # someone else's
    with django_assert_max_num_queries(8):
        response = client.get(reverse("shop:orders"))
    assert response.content.decode().count('data-testid="order-card"') == 6
    to_pay = client.get(reverse("shop:orders") + "?tab=pending_payment").content.decode()
    assert to_pay.count('data-testid="order-card"') == 3
    to_ship = client.get(reverse("shop:orders") + "?tab=paid").content.decode()
    assert to_ship.count('data-status="paid"') == 3
    assert client.get(reverse("shop:orders") + "?tab=nonsense").status_code == 200


def test_order_detail_timeline_tracking_and_receipt(client, django_assert_max_num_queries):
    order = ship_order(pay_order(place_order()))
    client.force_login(order.buyer)
    url = reverse("shop:order-detail", args=[order.number])
    with django_assert_max_num_queries(10):
        page = client.get(url)
    html = page.content.decode()
    assert (
        "SF1234567890" in html
        and 'data-testid="timeline"' in html
        and 'data-testid="confirm-receipt"' in html
    )
    client.post(reverse("shop:order-receive", args=[order.number]))
    order.refresh_from_db()
    assert order.status == "received"


def test_cancel_from_the_page_and_others_get_404(client, other_shopper):
    order = place_order()
    client.force_login(other_shopper)
    assert client.get(reverse("shop:order-detail", args=[order.number])).status_code == 404
    assert client.post(reverse("shop:order-cancel", args=[order.number])).status_code == 404
    client.force_login(order.buyer)
    client.post(reverse("shop:order-cancel", args=[order.number]))
    order.refresh_from_db()
    assert order.status == "cancelled"
    # shipping-related page actions on a cancelled order: a message, not a 500
    response = client.post(reverse("shop:order-receive", args=[order.number]), follow=True)
    assert response.status_code == 200 and list(response.context["messages"])


def test_pages_need_sign_in(client):
    for name in ("shop:orders", "shop:checkout", "shop:after-sales"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_cart_page_shows_lines_per_shop(client, shopper):
    client.force_login(shopper)
    cart = cart_get_or_create(user=shopper)
    cart_add(cart=cart, sku_id=make_sku(title="提拉米苏").pk, quantity=1)
    html = client.get(reverse("shop:cart")).content.decode()
    assert "提拉米苏" in html and 'data-testid="go-checkout"' in html
