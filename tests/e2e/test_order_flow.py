"""The whole order flow in a phone-sized Chromium: sign in → add to cart on the product page → check
out → pay in the sandbox cashier (its notification reaches our live server) → the order shows paid;
the merchant ships it in the admin; the buyer sees it shipped and confirms receipt."""

import copy

import pytest

from shop.models import Order
from tests.factories import AddressFactory, UserFactory
from tests.shop.factories import ProductFactory, ShopFactory, SKUFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox_reaches_live_server(settings, live_server):
    settings.SITE_URL = live_server.url
    config = copy.deepcopy(settings.WECHATPAY)
    config.update(
        GATEWAY=f"{live_server.url}/sandbox/wechatpay",
        NOTIFY_URL=f"{live_server.url}/payments/notify/wechatpay/",
        REFUND_NOTIFY_URL=f"{live_server.url}/payments/notify/wechatpay/refund/",
    )
    settings.WECHATPAY = config


def sign_in(page, *, phone, password, path="/accounts/login/"):
    page.goto(path)
    page.fill("input[name=username]", phone)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("input[name=password]").press("Enter")


def test_buy_pay_ship_receive(page, browser, live_server, sandbox_reaches_live_server, screenshot, password):
    shop = ShopFactory(name="甜品小店")
    merchant = shop.owner
    merchant.set_password(password)
    merchant.save()
    product = ProductFactory(shop=shop, title="草莓蛋糕")
    sku = SKUFactory(product=product, price_fen=12800, stock=5, spec_label="6寸")
    buyer = UserFactory(password=password, nickname="小明")
    AddressFactory(user=buyer)

    # Buyer signs in and adds the cake to the cart from the product page.
    sign_in(page, phone=buyer.phone, password=password)
    page.goto(f"/products/{product.pk}/")
    add = page.get_by_test_id("add-to-cart")
    add.wait_for(state="visible")
    page.wait_for_function("!document.querySelector('[data-testid=add-to-cart]').disabled")
    add.click()
    page.wait_for_load_state()
    page.goto("/cart/")
    assert page.get_by_test_id("cart-line").count() == 1
    assert "128.00" in page.get_by_test_id("cart-total").inner_text()
    screenshot(page, "cart")

    # Checkout: the default address is chosen; place the order and land on the pay page.
    page.get_by_test_id("go-checkout").click()
    page.wait_for_load_state()
    screenshot(page, "checkout")
    page.get_by_test_id("place-order").click()
    page.wait_for_url("**/pay/")
    order = Order.objects.get(buyer=buyer)
    assert order.total_fen == 12800 and order.status == "pending_payment"
    assert "128.00" in page.get_by_test_id("pay-amount").inner_text()
    screenshot(page, "pay")

    # Pay in the sandbox cashier; its signed notification reaches /payments/notify/wechatpay/.
    page.get_by_test_id("pay-wechat").click()
    page.get_by_test_id("cashier").wait_for()
    screenshot(page, "cashier")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url(f"**/orders/{order.number}/")
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "paid"
    order.refresh_from_db()
    assert order.status == "paid" and order.payments.get().status == "succeeded"
    screenshot(page, "paid")

    # The merchant ships it in the admin.
    merchant_context = browser.new_context(base_url=live_server.url)
    admin = merchant_context.new_page()
    admin.set_default_timeout(10_000)
    sign_in(admin, phone=merchant.phone, password=password, path="/admin/login/")
    admin.goto(f"/admin/shop/order/{order.pk}/change/")
    admin.get_by_test_id("ship-order").click()
    admin.get_by_test_id("carrier").fill("顺丰速运")
    admin.get_by_test_id("tracking").fill("SF1234567890")
    screenshot(admin, "admin-ship")
    admin.get_by_test_id("ship-submit").click()
    admin.wait_for_url(f"**/admin/shop/order/{order.pk}/change/")
    screenshot(admin, "admin-shipped")
    merchant_context.close()
    order.refresh_from_db()
    assert order.status == "shipped" and order.tracking_number == "SF1234567890"

    # The buyer sees it shipped with the tracking number, and confirms receipt.
    page.goto("/orders/?tab=shipped")
    assert page.get_by_test_id("order-card").count() == 1
    page.goto(f"/orders/{order.number}/")
    assert "SF1234567890" in page.get_by_test_id("tracking").inner_text()
    screenshot(page, "shipped")
    page.get_by_test_id("confirm-receipt").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "received"
    screenshot(page, "received")
    order.refresh_from_db()
    assert order.status == "received"
    assert sku.__class__.objects.get(pk=sku.pk).stock == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
