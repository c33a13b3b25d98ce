"""One cashier trip for a checkout across two shops, in a phone-sized Chromium: cart with both
shops' cakes → checkout → one pay page listing both orders and the total → the sandbox cashier shows
both sub-orders → confirm → both orders paid by the one combined notification. And the shop's own
404 page for a wrong URL."""

import pytest

from shop.models import Order, Payment
from shop.services.cart import cart_add, cart_get_or_create
from tests.e2e.test_order_flow import sandbox_reaches_live_server, sign_in  # noqa: F401
from tests.factories import AddressFactory, UserFactory
from tests.shop.factories import ProductFactory, ShopFactory, SKUFactory

pytestmark = pytest.mark.e2e


def test_a_checkout_across_two_shops_is_paid_in_one_cashier_trip(
    page,
    live_server,
    sandbox_reaches_live_server,  # noqa: F811
    screenshot,
    password,
):
    buyer = UserFactory(password=password, nickname="小明")
    AddressFactory(user=buyer)
    cart = cart_get_or_create(user=buyer)
    for shop_name, title, price in (("甜品小店", "草莓蛋糕", 12800), ("咖啡小店", "挂耳咖啡", 3900)):
        product = ProductFactory(shop=ShopFactory(name=shop_name), title=title)
        cart_add(cart=cart, sku_id=SKUFactory(product=product, price_fen=price, stock=5).pk, quantity=1)

    sign_in(page, phone=buyer.phone, password=password)
    page.goto("/checkout/")
    page.get_by_test_id("place-order").click()
    page.wait_for_url("**/pay/")
    orders = list(Order.objects.filter(buyer=buyer).order_by("pk"))
    assert len(orders) == 2
    assert page.get_by_test_id("paid-together").is_visible()
    assert "167.00" in page.get_by_test_id("pay-amount").inner_text()
    screenshot(page, "pay-together")

    page.get_by_test_id("pay-wechat").click()
    page.get_by_test_id("cashier").wait_for()
    assert "167.00" in page.get_by_test_id("amount").inner_text()
    assert page.get_by_test_id("sub-orders").locator(".row").count() == 2
    screenshot(page, "cashier-combined")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url(f"**/orders/{orders[0].number}/")
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "paid"
    screenshot(page, "paid")
    assert set(Order.objects.filter(buyer=buyer).values_list("status", flat=True)) == {"paid"}
    assert Payment.objects.filter(order__buyer=buyer, status="succeeded").count() == 2


def test_a_wrong_url_shows_the_shops_own_404_page(page, screenshot):
    response = page.goto("/no-such-page/")
    assert response.status == 404
    assert page.get_by_test_id("not-found").is_visible()
    screenshot(page, "not-found")
