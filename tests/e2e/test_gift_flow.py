"""Gifting in two browser contexts (phone-sized Chromium): the giver picks 送给朋友 on the product page,
pays in the sandbox cashier and gets the share card; the recipient, signed out, opens the link,
signs in and comes back, enters an address and accepts; the merchant ships the sub-order in the admin
(the wish message on the packing view); the recipient thanks the giver; the giver sees "shipped" and
the note, and never the address."""

import pytest

from gifting.models import Gift, GiftClaim
from shop.models import Order
from tests.e2e.test_order_flow import sandbox_reaches_live_server, sign_in  # noqa: F401
from tests.factories import UserFactory
from tests.shop.factories import ProductFactory, ShopFactory, SKUFactory

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def test_send_claim_ship_thank(page, browser, live_server, sandbox_reaches_live_server, screenshot, password):  # noqa: F811
    shop = ShopFactory(name="花语小店")
    merchant = shop.owner
    merchant.set_password(password)
    merchant.save()
    product = ProductFactory(shop=shop, title="玫瑰花束")
    SKUFactory(product=product, price_fen=19900, stock=5, spec_label="11枝")
    giver = UserFactory(password=password, nickname="送花的小明")
    recipient = UserFactory(password=password, nickname="收花的小红")

    # The giver: 送给朋友 on the product page, one friend, a message, pay.
    sign_in(page, phone=giver.phone, password=password)
    page.goto(f"/products/{product.pk}/")
    page.get_by_test_id("send-gift").click()
    page.get_by_test_id("gift-form").wait_for()
    page.fill("textarea[name=message]", "生日快乐，愿你天天开心！")
    page.select_option("select[name=channel]", "friend_chat")
    screenshot(page, "gift-form")
    page.get_by_test_id("gift-pay").click()
    page.wait_for_url("**/pay/")
    gift = Gift.objects.get(giver=giver)
    page.get_by_test_id("pay-wechat").click()
    page.get_by_test_id("cashier").wait_for()
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url(f"**/orders/{gift.order.number}/")
    page.get_by_test_id("gift-card-link").click()
    page.get_by_test_id("gift-share-card").wait_for()
    assert page.get_by_test_id("gift-share-card").get_attribute("data-status") == "open"
    link = page.get_by_test_id("gift-link").inner_text()
    assert gift.token in link
    # The QR image loads after the page is shown: wait for it (as the affiliate flow does) rather
    # than read its width the moment the card appears.
    page.wait_for_function("document.querySelector('[data-testid=gift-qr]').naturalWidth > 0")
    screenshot(page, "share-card")

    # The recipient, in a browser of their own: opens the link signed out, signs in, comes back.
    friend_context = browser.new_context(viewport=PHONE, locale="zh-CN", base_url=live_server.url)
    friend = friend_context.new_page()
    friend.set_default_timeout(10_000)
    friend.goto(f"/g/{gift.token}/")
    assert "生日快乐" in friend.get_by_test_id("gift-message").inner_text()
    assert "199" not in friend.content()  # never the price
    screenshot(friend, "claim-signed-out")
    friend.get_by_test_id("gift-sign-in").click()
    friend.fill("input[name=username]", recipient.phone)
    friend.fill("input[name=password]", password)
    with friend.expect_navigation():
        friend.locator("input[name=password]").press("Enter")
    friend.wait_for_url(f"**/g/{gift.token}/")
    friend.fill("input[name=recipient_name]", "韩梅梅")
    friend.fill("input[name=phone]", "13912345678")
    friend.fill("input[name=province]", "广东省")
    friend.fill("input[name=city]", "深圳市")
    friend.fill("input[name=district]", "南山区")
    friend.fill("input[name=detail]", "科技园路 1 号 802")
    screenshot(friend, "claim-address")
    friend.get_by_test_id("gift-accept").click()
    friend.get_by_test_id("gift-mine").wait_for()
    screenshot(friend, "claimed")
    claim = GiftClaim.objects.get(gift=gift)
    sub = claim.order
    assert sub.kind == Order.Kind.GIFT_CLAIM and sub.recipient_name == "韩梅梅"

    # The merchant ships the sub-order in the admin; the message is on the packing view.
    merchant_context = browser.new_context(base_url=live_server.url)
    admin = merchant_context.new_page()
    admin.set_default_timeout(10_000)
    sign_in(admin, phone=merchant.phone, password=password, path="/admin/login/")
    admin.goto(f"/admin/shop/order/{gift.order_id}/change/")
    assert admin.get_by_test_id("gift-order-notice").is_visible()
    assert admin.get_by_test_id("ship-order").count() == 0
    screenshot(admin, "admin-gift-order")
    admin.goto(f"/admin/shop/order/{sub.pk}/change/")
    assert "生日快乐" in admin.get_by_test_id("gift-claim-notice").inner_text()
    admin.get_by_test_id("ship-order").click()
    assert "生日快乐" in admin.get_by_test_id("packing-note").inner_text()
    admin.get_by_test_id("carrier").fill("顺丰速运")
    admin.get_by_test_id("tracking").fill("SF2233445566")
    screenshot(admin, "admin-packing")
    admin.get_by_test_id("ship-submit").click()
    admin.wait_for_url(f"**/admin/shop/order/{sub.pk}/change/")
    merchant_context.close()
    sub.refresh_from_db()
    assert sub.status == "shipped"

    # The recipient thanks the giver.
    friend.goto(f"/g/{gift.token}/")
    friend.fill("textarea[name=note]", "收到啦，好漂亮，谢谢你！")
    friend.get_by_test_id("send-thanks").click()
    friend.wait_for_load_state()
    screenshot(friend, "thanked")
    friend_context.close()

    # The giver sees the copy shipped and the note; never the address or phone.
    page.goto(f"/gifts/sent/{gift.token}/")
    claim_row = page.get_by_test_id("gift-claim")
    assert claim_row.get_attribute("data-shipping") == "shipped"
    assert "收花的小红" in claim_row.inner_text()
    assert "好漂亮" in page.get_by_test_id("claim-thanks").inner_text()
    html = page.content()
    for secret in ("韩梅梅", "13912345678", "科技园路"):
        assert secret not in html
    screenshot(page, "giver-sees-shipped")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
