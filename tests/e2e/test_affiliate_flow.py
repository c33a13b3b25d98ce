"""A creator makes a link in a phone-sized Chromium; a shopper opens it on their phone, buys and
pays in the sandbox cashier; the order completes; the creator's ledger shows the settled
commission. Screenshots in test-artifacts/screenshots/."""

import pytest

from affiliates import services
from affiliates.ledger import ledger_sync
from affiliates.models import CommissionEntry
from shop.models import Order
from tests.affiliates.helpers import complete, make_promoter
from tests.e2e.conftest import PHONE_VIEWPORT
from tests.e2e.test_order_flow import sandbox_reaches_live_server, sign_in  # noqa: F401, F811
from tests.factories import AddressFactory, UserFactory
from tests.shop.factories import ProductFactory, ShopFactory, SKUFactory

pytestmark = pytest.mark.e2e


def test_creator_link_to_settled_commission(
    page,
    browser,
    live_server,
    sandbox_reaches_live_server,  # noqa: F811
    screenshot,
    password,
):
    shop = ShopFactory(name="甜品小店")
    product = ProductFactory(shop=shop, title="草莓蛋糕")
    SKUFactory(product=product, price_fen=12800, stock=5, spec_label="6寸")
    services.plan_set(product=product, kind="public", rate_bp=1500)
    creator_user = UserFactory(password=password, nickname="带货达人")
    creator = make_promoter(user=creator_user, name="带货达人")
    services.showcase_add(promoter=creator, product_id=product.pk)
    buyer = UserFactory(password=password, nickname="小明")
    AddressFactory(user=buyer)

    # The creator makes a link for the cake, shared in Moments, and gets its share card.
    sign_in(page, phone=creator_user.phone, password=password)
    page.goto("/promoter/links/")
    page.select_option("select[name=scene]", "moments")
    page.select_option("select[name=product_id]", str(product.pk))
    page.get_by_test_id("make-link").click()
    page.get_by_test_id("share-card").wait_for()
    page.wait_for_function("document.querySelector('[data-testid=qr]').naturalWidth > 100")
    link_url = page.get_by_test_id("link-url").inner_text()
    screenshot(page, "share-card")

    # The shopper opens it on their phone, signs in and buys it now.
    shopper = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN", base_url=live_server.url)
    phone = shopper.new_page()
    phone.set_default_timeout(10_000)
    phone.goto(live_server.url + "/t/" + link_url.rsplit("/t/", 1)[1])
    phone.wait_for_url(f"**/products/{product.pk}/")
    screenshot(phone, "opened-link")
    sign_in(
        phone, phone=buyer.phone, password=password, path=f"/accounts/login/?next=/products/{product.pk}/"
    )
    phone.wait_for_function("!document.querySelector('[data-testid=buy-now]').disabled")
    phone.get_by_test_id("buy-now").click()
    phone.get_by_test_id("place-order").click()
    phone.wait_for_url("**/pay/")
    order = Order.objects.get(buyer=buyer)
    line = order.lines.get()
    assert line.attribution["creator"] == creator.pk and line.attribution["scene"] == "moments"
    phone.get_by_test_id("pay-wechat").click()
    phone.get_by_test_id("cashier").wait_for()
    phone.get_by_role("button", name="确认支付").click()
    phone.wait_for_url(f"**/orders/{order.number}/")
    screenshot(phone, "paid")
    shopper.close()

    # Shipped, received, the after-sales window closes: completed. The beat's ledger job runs.
    complete(Order.objects.get(pk=order.pk))
    ledger_sync()
    entry = CommissionEntry.objects.get(promoter=creator)
    assert (entry.status, entry.amount_fen) == ("settled", 1920)

    page.goto("/promoter/ledger/")
    assert page.get_by_test_id("balance-settled").inner_text() == "¥19.20"
    assert page.get_by_test_id("entry-state").first.inner_text() == "已结算"
    assert order.number in page.get_by_test_id("ledger-entry").first.inner_text()
    screenshot(page, "ledger")
