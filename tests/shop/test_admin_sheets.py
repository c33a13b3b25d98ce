"""Spreadsheets through django-import-export: exports follow the list's filters and the merchant's
shops, in yuan and local time, as xlsx and csv; the SKU sheet imports back with the form's checks,
all or nothing, never undoing a sale made since the export."""

import re

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from import_export.formats.base_formats import CSV, XLSX

from shop.models import SKU, Order
from tests.shop.order_factories import make_sku, pay_order, place_order

pytestmark = pytest.mark.django_db

FORMAT_INDEX = {"xlsx": "0", "csv": "1"}


def _export(client, url: str, file_format: str) -> tablib.Dataset:
    """Open the export page (with the list's query string) and post it with every column ticked."""
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    boxes = re.findall(r'<input type="checkbox" name="([^"]+)"', html)
    assert boxes, html[:2000]
    data = {"format": FORMAT_INDEX[file_format], **dict.fromkeys(boxes, "on")}
    response = client.post(url, data)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    if file_format == "xlsx":
        return XLSX().create_dataset(response.content)
    return CSV(encoding="utf-8-sig").create_dataset(response.content)


def _paid(shop, n, price_fen=18400):
    sku = make_sku(shop=shop, price_fen=price_fen, stock=100)
    return [pay_order(place_order(sku=sku)) for _ in range(n)]


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_order_export_follows_the_lists_filters_and_shops(client, shop, other_shop, file_format):
    paid = _paid(shop, 2)
    unpaid = place_order(sku=make_sku(shop=shop))
    _paid(other_shop, 1, price_fen=99999)
    client.force_login(shop.owner)
    dataset = _export(client, "/admin/shop/order/export/?status__exact=paid", file_format)
    rows = {row[0]: dict(zip(dataset.headers, row, strict=True)) for row in dataset}
    assert set(rows) == {order.number for order in paid}  # not the unpaid one, not another shop's
    assert unpaid.number not in rows
    order = paid[0]
    row = rows[order.number]
    assert str(row["合计（元）"]) == "184.00"
    assert row["店铺"] == shop.name and row["状态"] == "待发货"
    # Times in the shop's time zone, as the admin shows them (xlsx keeps them as date cells).
    paid = row["付款时间"]
    paid = paid.strftime("%Y-%m-%d %H:%M:%S") if hasattr(paid, "strftime") else paid
    assert paid == timezone.localtime(order.paid_at).strftime("%Y-%m-%d %H:%M:%S")


def test_product_export_round_trips(client, shop, other_shop):
    mine = make_sku(shop=shop, price_fen=12345, stock=7, title="草莓蛋糕")
    make_sku(shop=other_shop, title="别家的蛋糕")
    client.force_login(shop.owner)
    dataset = _export(client, "/admin/shop/product/export/", "csv")
    assert [row[1] for row in dataset] == ["草莓蛋糕"]
    assert int(dataset[0][0]) == mine.product_id


def _sku_sheet(client, file_format="xlsx") -> tablib.Dataset:
    return _export(client, "/admin/shop/sku/export/", file_format)


def _import(client, dataset: tablib.Dataset, file_format="xlsx", url="/admin/shop/sku/import/"):
    if file_format == "xlsx":
        upload = SimpleUploadedFile("skus.xlsx", XLSX().export_data(dataset))
    else:
        upload = SimpleUploadedFile("skus.csv", ("\ufeff" + dataset.export("csv")).encode())
    response = client.post(
        url,
        {"import_file": upload, "format": FORMAT_INDEX[file_format], "resource": "0"},
    )
    assert response.status_code == 200
    return response.content.decode()


def _confirm(client, html):
    form = re.search(r'<form action="([^"]*process_import[^"]*)"[^>]*>(.*?)</form>', html, re.S)
    assert form, "a confirm form is offered"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    return client.post(form.group(1), fields)


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_sku_sheet_exports_and_imports_back_through_the_form_and_service(client, shop, file_format):
    sku = make_sku(shop=shop, price_fen=1000, stock=5)
    client.force_login(shop.owner)
    dataset = _sku_sheet(client, file_format)
    assert dataset[0][dataset.headers.index("价格（元）")] in ("10.00", 10)
    headers = dataset.headers
    row = list(dataset[0])
    row[headers.index("价格（元）")] = "12.50"
    row[headers.index("库存")] = 9
    edited = tablib.Dataset(row, headers=headers)
    html = _import(client, edited, file_format)
    sku.refresh_from_db()
    assert (sku.price_fen, sku.stock) == (1000, 5)  # the preview wrote nothing
    response = _confirm(client, html)
    assert response.status_code == 302
    sku.refresh_from_db()
    assert (sku.price_fen, sku.stock) == (1250, 9)


def test_bad_and_foreign_rows_are_refused_and_nothing_is_written(client, shop, other_shop):
    first = make_sku(shop=shop, price_fen=1000, stock=5)
    second = make_sku(shop=shop, price_fen=2000, stock=6)
    foreign = make_sku(shop=other_shop, price_fen=3000, stock=7)
    client.force_login(shop.owner)
    dataset = _sku_sheet(client)
    headers = dataset.headers
    rows = [list(row) for row in dataset]
    by_id = {int(row[0]): row for row in rows}
    by_id[first.pk][headers.index("库存")] = 50  # good
    by_id[second.pk][headers.index("价格（元）")] = "abc"  # bad price
    foreign_row = list(by_id[first.pk])
    foreign_row[0] = foreign.pk
    missing_row = list(by_id[first.pk])
    missing_row[0] = 99999999
    negative = list(by_id[second.pk])
    negative[headers.index("价格（元）")] = "20.00"
    negative[headers.index("库存")] = -1
    html = _import(client, tablib.Dataset(*rows, foreign_row, missing_row, negative, headers=headers))
    assert "process_import" not in html  # no confirmation offered
    assert f"SKU {foreign.pk}" in html and "SKU 99999999" in html
    # The foreign SKU reads like a missing one: its shop, product and price are not shown.
    assert other_shop.name not in html and "30.00" not in html
    for sku, stock in [(first, 5), (second, 6), (foreign, 7)]:
        sku.refresh_from_db()
        assert sku.stock == stock


def test_a_sale_since_the_export_is_never_undone(client, shop):
    sku = make_sku(shop=shop, price_fen=1000, stock=5)
    client.force_login(shop.owner)
    dataset = _sku_sheet(client)
    headers = dataset.headers
    row = list(dataset[0])
    row[headers.index("价格（元）")] = "11.00"  # the merchant only changes the price
    edited = tablib.Dataset(row, headers=headers)
    pay_order(place_order(sku=sku, quantity=2))  # meanwhile a buyer takes 2
    html = _import(client, edited)
    assert "process_import" not in html and "3" in html
    sku.refresh_from_db()
    assert (sku.stock, sku.price_fen) == (3, 1000)
    # Without the 原库存 column the sheet sets the stock it names (a stock count), after a preview.
    row.pop(headers.index("原库存"))
    count_headers = [h for h in headers if h != "原库存"]
    row[count_headers.index("库存")] = 3
    response = _confirm(client, _import(client, tablib.Dataset(row, headers=count_headers)))
    assert response.status_code == 302
    sku.refresh_from_db()
    assert (sku.stock, sku.price_fen) == (3, 1100)
    assert Order.objects.count() == 1 and SKU.objects.count() == 1


def test_product_sheet_creates_draft_products_and_renames_existing_ones(client, shop, other_shop):
    from shop.models import Category, Product
    from tests.shop.factories import CategoryFactory

    category = CategoryFactory(name="蛋糕")
    existing = make_sku(shop=shop, title="旧名字").product
    foreign = make_sku(shop=other_shop, title="别家的").product
    client.force_login(shop.owner)
    dataset = _export(client, "/admin/shop/product/export/", "xlsx")
    headers = dataset.headers
    rows = [list(row) for row in dataset]
    rows[0][headers.index("标题")] = "新名字"
    new_row = ["", "芒果千层", shop.name, "蛋糕", "", "88.00", 12, "", "", "", ""]
    bad_row = ["", "", shop.name, "没有这个分类", "", "abc", -1, "", "", "", ""]
    foreign_row = [foreign.pk, "改别家的", shop.name, "蛋糕", "", "", "", "", "", "", ""]
    products = "/admin/shop/product/import/"
    html = _import(
        client, tablib.Dataset(*rows, new_row, bad_row, foreign_row, headers=headers), url=products
    )
    assert "process_import" not in html and f"{foreign.pk}" in html and other_shop.name not in html
    assert Product.objects.filter(title__in=["新名字", "芒果千层"]).count() == 0
    # Without the bad rows: a preview, then the products are written by the product services.
    html = _import(client, tablib.Dataset(*rows, new_row, headers=headers), url=products)
    assert _confirm(client, html).status_code == 302
    existing.refresh_from_db()
    assert existing.title == "新名字"
    created = Product.objects.get(title="芒果千层")
    assert created.shop == shop and created.category == category and created.status == Product.Status.DRAFT
    sku = created.skus.get()
    assert (sku.price_fen, sku.stock) == (8800, 12)
    foreign.refresh_from_db()
    assert foreign.title == "别家的" and Category.objects.filter(name="没有这个分类").count() == 0


def test_staff_without_the_price_right_cannot_change_prices_by_sheet(client, shop):
    from shop.models import ShopMembership
    from tests.factories import UserFactory
    from tests.shop.factories import ShopMembershipFactory

    sku = make_sku(shop=shop, price_fen=1000, stock=5)
    staff = UserFactory(is_staff=True)
    ShopMembershipFactory(shop=shop, user=staff, role=ShopMembership.Role.STAFF)
    client.force_login(staff)
    dataset = _sku_sheet(client)
    headers = dataset.headers
    row = list(dataset[0])
    row[headers.index("价格（元）")] = "1.00"
    html = _import(client, tablib.Dataset(row, headers=headers))
    assert "process_import" not in html
    row[headers.index("价格（元）")] = "10.00"
    row[headers.index("库存")] = 8  # stock alone is theirs to set
    assert _confirm(client, _import(client, tablib.Dataset(row, headers=headers))).status_code == 302
    sku.refresh_from_db()
    assert (sku.price_fen, sku.stock) == (1000, 8)


def _product_sheet(client, *rows: dict) -> tuple[tablib.Dataset, str]:
    """A product sheet with the exported columns, one row per dict (column title -> value)."""
    headers = _export(client, "/admin/shop/product/export/", "xlsx").headers
    dataset = tablib.Dataset(*[[row.get(h, "") for h in headers] for row in rows], headers=headers)
    return dataset, _import(client, dataset, url="/admin/shop/product/import/")


def _sku_row(title, spec, price, stock, code="", shop_name="", original=""):
    return {
        "标题": title,
        "店铺": shop_name,
        "分类": "连衣裙",
        "规格（名:值; …）": spec,
        "价格（元）": price,
        "原价（元）": original,
        "库存": stock,
        "编码": code,
    }


def test_product_sheet_imports_several_skus_per_product_with_specs(client, shop):
    """A merchant's sheet: one row per SKU, rows of one title are one product with 颜色 × 尺码
    specs, prices in yuan, stock and codes; a combination the sheet leaves out is made off sale."""
    from shop.models import Product
    from tests.shop.factories import CategoryFactory

    CategoryFactory(name="连衣裙")
    client.force_login(shop.owner)
    rows = [
        _sku_row("碎花连衣裙", "颜色:红色; 尺码:M", "129.00", 10, "RED-M", original="199"),
        _sku_row("碎花连衣裙", "颜色：红色；尺码：L", 129, 5, "RED-L"),
        _sku_row("碎花连衣裙", "颜色:蓝色; 尺码:M", "139.5", 0, "BLUE-M"),
        _sku_row("纯棉T恤", "", "59.90", 30, "TEE"),
    ]
    _dataset, html = _product_sheet(client, *rows)
    assert "process_import" in html and Product.objects.filter(shop=shop).count() == 0  # a preview only
    assert _confirm(client, html).status_code == 302

    dress = Product.objects.get(title="碎花连衣裙")
    assert dress.shop == shop and dress.status == Product.Status.DRAFT
    assert [d.name for d in dress.spec_dimensions.order_by("position")] == ["颜色", "尺码"]
    skus = {sku.spec_label: sku for sku in dress.skus.all()}
    assert set(skus) == {"红色 / M", "红色 / L", "蓝色 / M", "蓝色 / L"}
    got = {
        label: (sku.price_fen, sku.original_price_fen, sku.stock, sku.code, sku.is_active)
        for label, sku in skus.items()
    }
    assert got["红色 / M"] == (12900, 19900, 10, "RED-M", True)
    assert got["红色 / L"] == (12900, None, 5, "RED-L", True)
    assert got["蓝色 / M"] == (13950, None, 0, "BLUE-M", True)
    assert got["蓝色 / L"][4] is False and got["蓝色 / L"][2] == 0  # not in the sheet: off sale
    tee = Product.objects.get(title="纯棉T恤").skus.get()
    assert (tee.spec_label, tee.price_fen, tee.stock, tee.code) == ("", 5990, 30, "TEE")


def test_product_sheet_shows_each_rows_errors_and_imports_nothing(client, shop, other_shop):
    from shop.models import SKU, Product
    from tests.shop.factories import CategoryFactory

    CategoryFactory(name="连衣裙")
    client.force_login(shop.owner)
    skus_before = SKU.objects.count()
    rows = [
        _sku_row("碎花连衣裙", "颜色:红色; 尺码:M", "129.00", 10),  # good on its own
        _sku_row("碎花连衣裙", "颜色:红色; 尺码:M", "129.00", 3),  # the same combination again
        _sku_row("碎花连衣裙", "尺码:L; 颜色:蓝色", "129.00", 3),  # specs in another order
        _sku_row("碎花连衣裙", "颜色=蓝色", "129.00", 3),  # not name:value
        _sku_row("纯棉T恤", "", "12.345", -2),  # three decimals, negative stock
        _sku_row("纯棉T恤", "", "", 1, shop_name=other_shop.name),  # not one of my shops
        _sku_row("卫衣", "", "", 1),  # no price for a new product
    ]
    _dataset, html = _product_sheet(client, *rows)
    assert "process_import" not in html
    for message in [
        "第 1 行已有这个组合",
        "请按第 1 行的顺序填写相同的规格名",
        "规格请写成 名:值",
        "最多两位小数",
        "请填写你的一个店铺名称",
        "请填写新商品的价格",
    ]:
        assert message in html, message
    assert other_shop.name not in html.replace(f"{other_shop.name}</td>", "")  # only echoed in its own cell
    assert Product.objects.filter(shop=shop).count() == 0 and SKU.objects.count() == skus_before
