"""After a settled order, a creator looks at the promoter centre on a phone-sized page (its chart and
table agree with the ledger), withdraws; an operator approves in the admin; the sandbox pays through
the merchant transfer and notifies; the creator sees the withdrawal paid and a balance that agrees
with the chart. Screenshots in test-artifacts/screenshots/."""

import copy
import time

import pytest

from affiliates.stats import stats_rollup
from outbox.models import Message
from outbox.services import outbox_deliver
from payouts.models import Withdrawal
from tests.affiliates.helpers import make_promoter
from tests.e2e.test_order_flow import sandbox_reaches_live_server, sign_in  # noqa: F401, F811
from tests.factories import UserFactory
from tests.payouts.helpers import earn

pytestmark = pytest.mark.e2e


@pytest.fixture
def transfers_reach_live_server(settings, live_server, sandbox_reaches_live_server):  # noqa: F811
    config = copy.deepcopy(settings.WECHATPAY)
    config.update(
        TRANSFER_NOTIFY_URL=f"{live_server.url}/payments/notify/wechatpay/transfer/",
        SANDBOX_AUTO_TRANSFER_SECONDS=0.5,
    )
    settings.WECHATPAY = config


def _chart_sum(page, dataset: int) -> float:
    page.wait_for_selector("#stats-chart[data-ready='1']")
    return page.evaluate(
        "document.getElementById('stats-chart').chart"
        f".data.datasets[{dataset}].data.reduce((a, b) => a + b, 0)"
    )


def test_creator_withdraws_operator_approves_sandbox_pays(
    page, browser, live_server, transfers_reach_live_server, screenshot, password
):
    creator_user = UserFactory(password=password, nickname="带货达人")
    creator = make_promoter(user=creator_user, name="带货达人")
    earn(creator, commission_fen=1920)
    stats_rollup()
    operator = UserFactory(password=password, nickname="运营", is_staff=True, is_superuser=True)

    # The creator's centre: the chart's commission equals the table's and the ledger's.
    sign_in(page, phone=creator_user.phone, password=password)
    page.goto("/promoter/centre/")
    assert page.locator("[data-figure=commission]").inner_text() == "¥19.20"
    assert page.locator("[data-figure=settled]").inner_text() == "¥19.20"
    assert _chart_sum(page, 0) == pytest.approx(19.20)
    assert _chart_sum(page, 2) == 1  # orders
    screenshot(page, "centre")

    # She withdraws ¥15.00.
    page.goto("/promoter/withdrawals/")
    assert page.get_by_test_id("wallet-available").inner_text() == "¥19.20"
    page.fill("input[name=amount]", "15.00")
    page.get_by_test_id("withdraw").click()
    page.get_by_test_id("withdrawal").first.wait_for()
    assert page.get_by_test_id("withdrawal-state").first.inner_text() == "已申请"
    assert page.get_by_test_id("wallet-available").inner_text() == "¥4.20"
    screenshot(page, "requested")

    # The operator approves it in the admin's withdrawal queue.
    desk = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", base_url=live_server.url
    )
    admin = desk.new_page()
    admin.set_default_timeout(10_000)
    sign_in(
        admin, phone=operator.phone, password=password, path="/admin/login/?next=/admin/payouts/withdrawal/"
    )
    admin.goto("/admin/payouts/withdrawal/")
    withdrawal = Withdrawal.objects.get(promoter=creator)
    admin.locator(f"input.action-select[value='{withdrawal.pk}']").check()
    admin.locator("button[data-name=approve]").click()
    admin.wait_for_load_state("networkidle")
    withdrawal.refresh_from_db()
    assert withdrawal.status == "approved"
    screenshot(admin, "approved")

    # The worker sends the transfer; the sandbox pays and notifies a moment later.
    for message_id in Message.objects.filter(done_at__isnull=True).values_list("pk", flat=True):
        outbox_deliver(message_id=message_id)
    deadline = time.monotonic() + 15
    while withdrawal.status != "paid" and time.monotonic() < deadline:
        time.sleep(0.2)
        withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.transfer_state) == ("paid", "SUCCESS")
    admin.reload()
    screenshot(admin, "paid-in-queue")
    desk.close()

    page.goto("/promoter/withdrawals/")
    assert page.get_by_test_id("withdrawal-state").first.inner_text() == "已到账"
    assert page.get_by_test_id("wallet-paid").inner_text() == "¥15.00"
    assert page.get_by_test_id("wallet-available").inner_text() == "¥4.20"
    settled = page.get_by_test_id("wallet-settled").inner_text()
    screenshot(page, "paid")
    page.goto("/promoter/centre/")
    assert page.locator("[data-figure=settled]").inner_text() == settled == "¥19.20"
    assert _chart_sum(page, 0) == pytest.approx(19.20)
    screenshot(page, "centre-after")
