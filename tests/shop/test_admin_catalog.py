"""The merchant admin for shops and the catalog: the staff permission matrix (list, change URL,
search, autocomplete, filters, export, actions, inline choices), the product page's spec grid,
the on-sale rule shown on the form, bulk actions and the dashboard."""

import re

import pytest

from shop.models import SKU, Order, Product, Shop
from tests.factories import UserFactory
from tests.shop.factories import (
    CategoryFactory,
    ProductFactory,
    ShopMembershipFactory,
    image_upload,
    product_with_grid,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_a(shop):
    """A staff member (not the owner) of shop A."""
    return ShopMembershipFactory(shop=shop).user


@pytest.fixture
def product_a(shop):
    return product_with_grid(shop=shop, title="甲店连衣裙", colors=("红色", "蓝色"), sizes=("S",))


@pytest.fixture
def product_b(other_shop):
    return product_with_grid(shop=other_shop, title="乙店风衣", colors=("黑色",), sizes=("L",))


def ids_in(html, model):
    return set(map(int, re.findall(rf"/admin/shop/{model}/(\d+)/change/", html)))


# --- Permission matrix --------------------------------------------------------------------------


def test_staff_lists_only_their_own_shops_rows(client, staff_a, shop, other_shop, product_a, product_b):
    client.force_login(staff_a)
    assert ids_in(client.get("/admin/shop/product/").content.decode(), "product") == {product_a.pk}
    assert ids_in(client.get("/admin/shop/shop/").content.decode(), "shop") == {shop.pk}
    sku_html = client.get("/admin/shop/sku/").content.decode()
    assert "乙店风衣" not in sku_html and "甲店连衣裙" in sku_html


def test_staff_cannot_open_another_shops_rows_by_url(client, staff_a, other_shop, product_b):
    client.force_login(staff_a)
    other_sku = product_b.skus.first()
    for url in [
        f"/admin/shop/product/{product_b.pk}/change/",
        f"/admin/shop/product/{product_b.pk}/delete/",
        f"/admin/shop/product/{product_b.pk}/history/",
        f"/admin/shop/shop/{other_shop.pk}/change/",
        f"/admin/shop/sku/{other_sku.pk}/change/",
    ]:
        response = client.get(url, follow=True)
        assert "乙店" not in response.content.decode().replace("别家小店", ""), url
        assert response.redirect_chain and response.redirect_chain[-1][0] == "/admin/", url
    # Posting to the change page changes nothing either.
    client.post(f"/admin/shop/product/{product_b.pk}/change/", {"title": "hacked"})
    product_b.refresh_from_db()
    assert product_b.title == "乙店风衣"


def test_search_and_filters_stay_inside_the_shop(client, staff_a, product_a, product_b, other_shop):
    client.force_login(staff_a)
    html = client.get("/admin/shop/product/", {"q": "风衣"}).content.decode()
    assert ids_in(html, "product") == set()
    html = client.get("/admin/shop/product/", {"shop__id__exact": other_shop.pk}).content.decode()
    assert product_b.pk not in ids_in(html, "product")
    # The shop filter in the sidebar does not even name the other shop.
    html = client.get("/admin/shop/product/").content.decode()
    assert "别家小店" not in html


def test_autocomplete_returns_only_own_rows(client, staff_a, product_a, product_b):
    client.force_login(staff_a)
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "shop", "model_name": "sku", "field_name": "product", "term": "店"},
    )
    assert response.status_code == 200
    assert {int(r["id"]) for r in response.json()["results"]} == {product_a.pk}
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "shop", "model_name": "product", "field_name": "shop", "term": ""},
    )
    assert [r["text"] for r in response.json()["results"]] == ["甜品小店"]


def test_csv_export_only_holds_own_rows_even_when_other_ids_are_posted(client, staff_a, product_a, product_b):
    client.force_login(staff_a)
    response = client.post(
        "/admin/shop/product/",
        {"action": "export_as_csv", "_selected_action": [product_a.pk, product_b.pk]},
    )
    assert response.status_code == 200
    body = response.content.decode("utf-8-sig")
    assert "甲店连衣裙" in body and "乙店风衣" not in body


def test_actions_ignore_other_shops_ids(client, staff_a, product_a, product_b):
    client.force_login(staff_a)
    client.post(
        "/admin/shop/product/",
        {"action": "take_off_shelf", "_selected_action": [product_a.pk, product_b.pk]},
    )
    product_a.refresh_from_db()
    product_b.refresh_from_db()
    assert product_a.status == Product.Status.OFF_SHELF
    assert product_b.status == Product.Status.ON_SALE


def test_shop_choices_on_the_product_form_are_the_staffs_own(client, staff_a, shop, other_shop):
    client.force_login(staff_a)
    html = client.get("/admin/shop/product/add/").content.decode()
    assert "甜品小店" in html and "别家小店" not in html
    category = CategoryFactory()
    response = client.post("/admin/shop/product/add/", product_form(shop=other_shop, category=category))
    assert response.status_code == 200  # re-shown with an error
    assert not Product.objects.filter(shop=other_shop).exists()


def test_people_without_a_shop_see_no_catalog(client, shop):
    lonely = UserFactory(is_staff=True)
    client.force_login(lonely)
    assert client.get("/admin/shop/product/").status_code == 403
    assert client.get("/admin/shop/shop/dashboard/").status_code == 403


def test_operators_see_everything(client, operator, product_a, product_b):
    client.force_login(operator)
    assert ids_in(client.get("/admin/shop/product/").content.decode(), "product") == {
        product_a.pk,
        product_b.pk,
    }


def test_staff_cannot_suspend_or_add_shops(client, staff_a, shop):
    client.force_login(staff_a)
    client.post("/admin/shop/shop/", {"action": "suspend_shops", "_selected_action": [shop.pk]})
    shop.refresh_from_db()
    assert shop.status == Shop.Status.ACTIVE
    assert client.get("/admin/shop/shop/add/").status_code == 403


# --- The product page: specs, SKU grid, rules -------------------------------------------------


def management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def product_form(*, shop, category, status="draft", title="新品连衣裙", specs=(), skus=(), images=0):
    data = {
        "shop": shop.pk,
        "category": category.pk,
        "title": title,
        "subtitle": "",
        "description": "<p>好看</p><script>x</script>",
        "status": status,
        **management("images", images),
        **management("spec_dimensions", len(specs), sum(1 for s in specs if s.get("id"))),
        **management("skus", len(skus), len(skus)),
    }
    for i, spec in enumerate(specs):
        data.update(
            {
                f"spec_dimensions-{i}-id": spec.get("id", ""),
                f"spec_dimensions-{i}-name": spec["name"],
                f"spec_dimensions-{i}-values_text": spec["values"],
                f"spec_dimensions-{i}-position": i,
            }
        )
    for i, sku in enumerate(skus):
        data.update(
            {
                f"skus-{i}-id": sku["id"],
                f"skus-{i}-price": sku.get("price", ""),
                f"skus-{i}-original_price": sku.get("original_price", ""),
                f"skus-{i}-stock": sku.get("stock", 0),
                f"skus-{i}-code": sku.get("code", ""),
                f"skus-{i}-is_active": "on",
            }
        )
    return data


def test_adding_a_product_with_specs_builds_the_sku_grid(client, merchant, shop):
    client.force_login(merchant)
    category = CategoryFactory()
    data = product_form(
        shop=shop,
        category=category,
        specs=[{"name": "颜色", "values": "红色，蓝色"}, {"name": "尺码", "values": "S, M, L"}],
    )
    response = client.post("/admin/shop/product/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get(title="新品连衣裙")
    assert product.status == Product.Status.DRAFT
    assert product.skus.count() == 6
    assert "<script>" not in product.description
    # The change page shows the grid, one row per combination.
    html = client.get(f"/admin/shop/product/{product.pk}/change/").content.decode()
    assert "红色 / S" in html and "蓝色 / L" in html


def test_on_sale_without_a_price_is_refused_on_the_form_and_nothing_is_saved(client, merchant, shop):
    client.force_login(merchant)
    product = ProductFactory(shop=shop, status=Product.Status.DRAFT, title="旧标题")
    sku = SKU.objects.create(product=product, price_fen=0, stock=0)
    data = product_form(
        shop=shop,
        category=product.category,
        status="on_sale",
        title="新标题",
        skus=[{"id": sku.pk, "price": "0", "stock": 5}],
    )
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 200
    assert "价格大于 0" in response.content.decode()  # Chinese by default (test_i18n covers English)
    product.refresh_from_db()
    sku.refresh_from_db()
    assert (product.title, product.status, sku.stock) == ("旧标题", Product.Status.DRAFT, 0)


def test_setting_prices_in_yuan_then_on_sale(client, merchant, shop):
    client.force_login(merchant)
    product = product_with_grid(shop=shop, colors=("红色",), sizes=("S", "M"), price_fen=1000)
    skus = list(product.skus.order_by("id"))
    data = product_form(
        shop=shop,
        category=product.category,
        status="on_sale",
        title=product.title,
        specs=[
            {"id": d.pk, "name": d.name, "values": ", ".join(v.value for v in d.values.all())}
            for d in product.spec_dimensions.all()
        ],
        skus=[
            {"id": skus[0].pk, "price": "12.5", "original_price": "20", "stock": 3, "code": "R-S"},
            {"id": skus[1].pk, "price": "99", "stock": 0},
        ],
    )
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    skus[0].refresh_from_db()
    assert (skus[0].price_fen, skus[0].original_price_fen, skus[0].stock, skus[0].code) == (
        1250,
        2000,
        3,
        "R-S",
    )
    product.refresh_from_db()
    assert product.price_fen == 1250


@pytest.mark.parametrize(
    "row",
    [
        {"price": "-1", "stock": 1},
        {"price": "1", "stock": -3},
        {"price": "1.234", "stock": 1},
        {"price": "5", "original_price": "4", "stock": 1},
    ],
)
def test_bad_prices_and_stock_reshow_the_form(client, merchant, shop, row):
    client.force_login(merchant)
    product = product_with_grid(shop=shop, colors=("红色",), sizes=(), price_fen=1000, stock=2)
    sku = product.skus.get()
    data = product_form(
        shop=shop,
        category=product.category,
        status="on_sale",
        title=product.title,
        skus=[{"id": sku.pk, **row}],
    )
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 200
    sku.refresh_from_db()
    assert (sku.price_fen, sku.stock) == (1000, 2)


def test_image_upload_is_checked(client, merchant, shop, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(merchant)
    product = product_with_grid(shop=shop, colors=("红色",), sizes=())
    base = product_form(shop=shop, category=product.category, status="on_sale", title=product.title, images=1)
    bad = {
        **base,
        "images-0-image": SimpleUploadedFile("a.png", b"hello", content_type="image/png"),
        "images-0-position": 0,
    }
    response = client.post(f"/admin/shop/product/{product.pk}/change/", bad)
    assert response.status_code == 200 and product.images.count() == 0
    settings.MAX_IMAGE_UPLOAD_BYTES = 50
    big = {**base, "images-0-image": image_upload(size=(300, 300)), "images-0-position": 0}
    response = client.post(f"/admin/shop/product/{product.pk}/change/", big)
    assert response.status_code == 200 and product.images.count() == 0
    settings.MAX_IMAGE_UPLOAD_BYTES = 5 * 1024 * 1024
    good = {**base, "images-0-image": image_upload(), "images-0-position": 0}
    response = client.post(f"/admin/shop/product/{product.pk}/change/", good)
    assert response.status_code == 302
    assert product.images.count() == 1


# --- Bulk actions -----------------------------------------------------------------------------


def test_bulk_put_on_sale_reports_products_without_a_price(client, merchant, shop):
    client.force_login(merchant)
    ready = product_with_grid(shop=shop, title="可上架")
    Product.objects.filter(pk=ready.pk).update(status=Product.Status.OFF_SHELF)
    unpriced = ProductFactory(shop=shop, status=Product.Status.DRAFT, title="没定价")
    response = client.post(
        "/admin/shop/product/",
        {"action": "put_on_sale", "_selected_action": [ready.pk, unpriced.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "没定价" in html and "价格大于 0" in html
    ready.refresh_from_db()
    unpriced.refresh_from_db()
    assert ready.status == Product.Status.ON_SALE and unpriced.status == Product.Status.DRAFT


def test_bulk_set_stock_asks_then_applies(client, merchant, shop):
    client.force_login(merchant)
    product = product_with_grid(shop=shop, stock=1)
    selected = {"action": "set_stock", "_selected_action": [product.pk]}
    response = client.post("/admin/shop/product/", selected)
    assert response.status_code == 200 and 'name="stock"' in response.content.decode()
    response = client.post("/admin/shop/product/", {**selected, "apply": "1", "stock": "-2"})
    assert response.status_code == 200  # the form again, with its error
    assert set(product.skus.values_list("stock", flat=True)) == {1}
    response = client.post("/admin/shop/product/", {**selected, "apply": "1", "stock": "40"})
    assert response.status_code == 302
    assert set(product.skus.values_list("stock", flat=True)) == {40}


def test_bulk_set_stock_on_skus(client, merchant, shop):
    client.force_login(merchant)
    product = product_with_grid(shop=shop, stock=1)
    sku = product.skus.first()
    response = client.post(
        "/admin/shop/sku/", {"action": "set_stock", "_selected_action": [sku.pk], "apply": "1", "stock": "7"}
    )
    assert response.status_code == 302
    sku.refresh_from_db()
    assert sku.stock == 7


# --- Dashboard ----------------------------------------------------------------------------------


def test_dashboard_shows_catalog_numbers_and_sales_chart(client, merchant, shop, shopper, other_shop):
    from datetime import timedelta

    from django.utils import timezone

    product = product_with_grid(shop=shop, colors=("红色",), sizes=("S", "M"), stock=3)
    sku = product.skus.first()
    SKU.objects.filter(pk=sku.pk).update(stock=0)
    now = timezone.now()
    for i, (status, total) in enumerate(
        [("paid", 10000), ("completed", 5000), ("cancelled", 70000), ("pending_payment", 80000)]
    ):
        Order.objects.create(
            number=f"D{i}",
            buyer=shopper,
            shop=shop,
            status=status,
            items_fen=total,
            total_fen=total,
            payment_deadline=now,
            paid_at=now - timedelta(days=1) if status in ("paid", "completed") else None,
        )
    Order.objects.create(
        number="OTHER",
        buyer=shopper,
        shop=other_shop,
        status="paid",
        items_fen=1,
        total_fen=99999,
        payment_deadline=now,
        paid_at=now,
    )
    client.force_login(merchant)
    html = client.get("/admin/shop/shop/dashboard/").content.decode()
    assert re.search(r'data-figure="products_on_sale">1<', html)
    assert re.search(r'data-figure="skus_sold_out">1<', html)
    assert re.search(r'data-figure="sales_orders">2<', html)
    assert "¥150.00" in html
    # Drawn by the vendored Chart.js from the page's own data: 14 days, amounts in fen and in yuan.
    assert html.count('class="sales-day"') == 14
    assert "vendor/chartjs/chart.umd.min.js" in html and 'id="sales-chart-data"' in html
    assert "¥999.99" not in html
    # Another shop's dashboard cannot be asked for by id: the staff member's own is shown instead.
    html = client.get(f"/admin/shop/shop/dashboard/?shop={other_shop.pk}").content.decode()
    assert f'data-shop="{shop.pk}"' in html


def test_inline_choices_of_shop_owned_models_are_narrowed(rf, staff_a, product_a, product_b):
    """Foreign-key and many-to-many choices (a SKU's spec values, a product) never offer another
    shop's rows, whatever form asks for them."""
    from django.contrib import admin

    from shop.models import SpecValue

    request = rf.get("/admin/")
    request.user = staff_a
    sku_admin = admin.site._registry[SKU]
    values = sku_admin.formfield_for_manytomany(SKU._meta.get_field("spec_values"), request).queryset
    assert set(values) == set(SpecValue.objects.filter(dimension__product=product_a))
    products = sku_admin.formfield_for_foreignkey(SKU._meta.get_field("product"), request).queryset
    assert list(products) == [product_a]
