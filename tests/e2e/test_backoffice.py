"""The back office in a phone-sized Chromium, as a merchant: the themed home ("today"), an order page,
the batch-ship preview, the product-sheet preview with an error per row, and the dashboard chart drawn
by the vendored Chart.js. Screenshots in test-artifacts/screenshots/."""

import pytest
import tablib
from import_export.formats.base_formats import XLSX

from shop.models import Order
from tests.e2e.test_order_flow import sign_in
from tests.shop.order_factories import make_sku, pay_order, place_order

pytestmark = pytest.mark.e2e


@pytest.fixture
def merchant_with_orders(shop, password):
    merchant = shop.owner
    merchant.set_password(password)
    merchant.save()
    sku = make_sku(shop=shop, price_fen=18400, stock=3, title="草莓蛋糕")
    orders = [pay_order(place_order(sku=sku)) for _ in range(3)]
    return merchant, orders


def test_merchant_back_office(page, merchant_with_orders, password, screenshot, tmp_path):
    merchant, orders = merchant_with_orders
    sign_in(page, phone=merchant.phone, password=password, path="/admin/login/")

    # The themed admin opens on "today" (its first tab); the page itself, as the tab shows it.
    page.goto("/admin/")
    page.wait_for_selector("iframe")
    screenshot(page, "themed-admin")
    page.goto("/admin/today/")
    assert page.get_by_test_id("card-to-ship").locator("b").inner_text() == "3"
    assert "¥552.00" in page.get_by_test_id("card-sales").inner_text()
    assert page.get_by_test_id("todo-badge").is_visible()
    assert page.get_by_test_id("shop-name").inner_text() == orders[0].shop.name
    screenshot(page, "today")

    # An order: money in yuan, no Save button.
    page.goto(f"/admin/shop/order/{orders[0].pk}/change/")
    assert "¥184.00" in page.content()
    assert page.locator("button[name=_save]").count() == 0
    screenshot(page, "order")

    # Batch ship: upload a sheet with one good row and one foreign number, see the preview.
    sheet = tmp_path / "ship.xlsx"
    dataset = tablib.Dataset(
        [orders[0].number, "顺丰速运", "SF0001"],
        ["99999999999999999999", "顺丰速运", "SF0002"],
        headers=["订单号", "快递公司", "快递单号"],
    )
    sheet.write_bytes(XLSX().export_data(dataset))
    page.goto("/admin/shop/order/batch-ship/")
    page.set_input_files("input[name=sheet]", str(sheet))
    page.get_by_test_id("batch-ship-upload").locator("button[type=submit]").click()
    page.get_by_test_id("batch-ship-preview").wait_for()
    assert page.locator("tr.row-error").count() == 1 and page.locator("tr.row-ok").count() == 1
    assert page.get_by_test_id("batch-ship-confirm").count() == 0
    screenshot(page, "batch-ship-preview")
    assert not Order.objects.filter(status=Order.Status.SHIPPED).exists()

    # Products from a sheet, one row per SKU: the preview shows each row's error, and imports nothing.
    from tests.shop.factories import CategoryFactory

    CategoryFactory(name="连衣裙")
    sheet = tmp_path / "products.xlsx"
    headers = ["ID", "标题", "店铺", "分类", "规格（名:值; …）", "价格（元）", "原价（元）", "库存", "编码"]
    dataset = tablib.Dataset(
        ["", "碎花连衣裙", "", "连衣裙", "颜色:红色; 尺码:M", "129.00", "199.00", 10, "RED-M"],
        ["", "碎花连衣裙", "", "连衣裙", "颜色:红色; 尺码:M", "129.00", "", 5, "RED-M2"],
        ["", "碎花连衣裙", "", "连衣裙", "颜色:蓝色; 尺码:L", "12.345", "", 3, "BLUE-L"],
        headers=headers,
    )
    sheet.write_bytes(XLSX().export_data(dataset))
    page.goto("/admin/shop/product/import/")
    page.set_input_files("input[name=import_file]", str(sheet))
    page.select_option("select[name=format]", label="xlsx")
    page.locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_selector("text=第 1 行已有这个组合")
    assert page.locator("text=最多两位小数").count() >= 1
    assert page.locator("form[action*=process_import]").count() == 0
    screenshot(page, "product-import-preview")

    # The dashboard's chart is drawn by Chart.js, served by the app.
    page.goto("/admin/shop/shop/dashboard/")
    page.wait_for_selector("#sales-chart[data-ready='1']")
    assert page.evaluate("typeof Chart") == "function"
    screenshot(page, "dashboard")
