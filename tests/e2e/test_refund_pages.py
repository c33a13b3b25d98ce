"""Refund pages in a phone-sized Chromium: the buyer enters the return shipment of an approved return
on the after-sales page; the merchant confirms receipt in the admin (refund + restock) and refunds
another part of the order from the order's refund page, typing yuan."""

import pytest

from shop.models import SKU, AfterSalesRequest, Refund
from shop.services.aftersales import after_sales_approve, after_sales_create
from tests.e2e.test_order_flow import sign_in
from tests.shop.order_factories import make_buyer, make_sku, pay_order, place_order, ship_order

pytestmark = pytest.mark.e2e


def test_return_shipment_receipt_and_merchant_refund_pages(page, live_server, screenshot, password):
    buyer = make_buyer(password=password, nickname="小明")
    sku = make_sku(price_fen=4900, stock=10, title="羊毛围巾")
    order = ship_order(pay_order(place_order(buyer=buyer, sku=sku, quantity=3)))
    merchant = order.shop.owner
    merchant.set_password(password)
    merchant.save()
    request = after_sales_create(
        buyer=buyer,
        order_id=order.pk,
        line_id=order.lines.get().pk,
        kind="return_refund",
        quantity=1,
        reason="起球",
    )
    after_sales_approve(request_id=request.pk, actor=merchant, note="请寄回")

    # The buyer enters the return carrier and tracking number.
    sign_in(page, phone=buyer.phone, password=password)
    page.goto("/after-sales/")
    form = page.get_by_test_id("return-form")
    form.wait_for()
    screenshot(page, "awaiting-return")
    form.locator("input[name$=carrier]").fill("顺丰速运")
    form.locator("input[name$=tracking_number]").fill("SF1234567")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    row = page.get_by_test_id("after-sales-row").first
    assert row.get_attribute("data-status") == "return_shipped"
    assert "退货寄回中" in row.inner_text()
    screenshot(page, "return-shipped")

    # The merchant confirms receipt in the admin: refund ¥49.00 and the scarf goes back on sale.
    page.context.clear_cookies()
    sign_in(page, phone=merchant.phone, password=password, path="/admin/login/")
    page.goto(f"/admin/shop/aftersalesrequest/{request.pk}/change/")
    assert "SF1234567" in page.content()
    screenshot(page, "admin-return")
    with page.expect_navigation():
        page.locator("button[value=receive_restock]").click()
    request.refresh_from_db()
    assert request.status == AfterSalesRequest.Status.APPROVED
    assert Refund.objects.get(after_sales=request).amount_fen == 4900
    assert SKU.objects.get(pk=sku.pk).stock == 10 - 3 + 1

    # And refunds ¥12.50 more on the order directly, from its refund page.
    page.goto(f"/admin/shop/order/{order.pk}/change/")
    with page.expect_navigation():
        page.get_by_test_id("refund-order").click()
    page.get_by_test_id("refund-amount").first.fill("12.50")
    page.fill("input[name=reason]", "包装破损补偿")
    screenshot(page, "admin-refund-form")
    with page.expect_navigation():
        page.get_by_test_id("refund-submit").click()
    assert "¥12.50" in page.content()
    screenshot(page, "admin-refund-done")
    assert sorted(Refund.objects.filter(order=order).values_list("amount_fen", flat=True)) == [1250, 4900]
