"""The sandbox cashier in a phone-sized Chromium: open the H5 pay link, confirm, land back on the
shop, and the merchant's notify endpoint receives a notification the provider verifies."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from shop.payments import get_payment_provider
from tests.shop.payments.servers import BackgroundServer, NotificationRecorder

pytestmark = pytest.mark.e2e


@pytest.fixture
def notify_endpoint(settings, live_server):
    app = NotificationRecorder()
    server = BackgroundServer(app)
    config = copy.deepcopy(settings.WECHATPAY)
    config.update(
        GATEWAY=f"{live_server.url}/sandbox/wechatpay",
        NOTIFY_URL=f"{server.url}/notify/",
        REFUND_NOTIFY_URL=f"{server.url}/notify/refund/",
    )
    settings.WECHATPAY = config
    yield app
    server.stop()


def open_cashier(page, amount_fen=12800, out_trade_no="WS20260101000042"):
    provider = get_payment_provider()
    result = provider.prepay(
        out_trade_no=out_trade_no,
        description="甜品小店-草莓蛋糕",
        amount_fen=amount_fen,
        client_ip="127.0.0.1",
        expires_at=timezone.now() + timedelta(minutes=15),
        return_url="/healthz?from=cashier",
    )
    page.goto(result.pay_url)
    return provider, result


def test_shopper_confirms_payment_in_the_sandbox_cashier(page, live_server, notify_endpoint, screenshot):
    provider, result = open_cashier(page)

    assert page.get_by_text("微信支付").first.is_visible()
    assert page.get_by_test_id("amount").inner_text().replace(" ", "") == "¥128.00"
    assert page.get_by_text("甜品小店-草莓蛋糕").is_visible()
    pay_button = page.get_by_role("button", name="确认支付")
    assert pay_button.is_visible()
    assert page.get_by_role("button", name="取消支付").is_visible()
    # Phone-sized: the pay button spans the screen and nothing scrolls sideways.
    box = pay_button.bounding_box()
    assert box["width"] > 300
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "cashier")

    pay_button.click()
    page.wait_for_url(f"{live_server.url}/healthz?from=cashier")

    [received] = notify_endpoint.wait_for(1)
    notification = provider.parse_payment_notification(headers=received.headers, body=received.body)
    assert notification.out_trade_no == "WS20260101000042"
    assert notification.amount_fen == 12800
    assert provider.query(out_trade_no="WS20260101000042").trade_state == "SUCCESS"

    # Coming back to the cashier shows it paid, with no second pay button.
    page.goto(result.pay_url)
    assert page.get_by_test_id("paid").is_visible()
    assert page.get_by_role("button", name="确认支付").count() == 0
    screenshot(page, "paid")


def test_shopper_cancels_in_the_sandbox_cashier(page, live_server, notify_endpoint, screenshot):
    provider, _ = open_cashier(page, out_trade_no="WS20260101000043")

    page.get_by_role("button", name="取消支付").click()
    page.wait_for_url(f"{live_server.url}/healthz?from=cashier")

    assert provider.query(out_trade_no="WS20260101000043").trade_state == "NOTPAY"
    assert notify_endpoint.received == []
