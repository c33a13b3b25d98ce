"""Catalog API: public reads (filters, search, ordering, pagination, detail with specs and SKUs),
likes, merchant writes scoped to their own shops, bad input as 400s, query counts, OpenAPI."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from shop.models import SKU, Product, Shop
from shop.services import catalog as services
from tests.factories import UserFactory
from tests.shop.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    ShopMembershipFactory,
    image_upload,
    product_with_grid,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def result_ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_products_list_only_on_sale_products_of_active_shops(api, shop):
    visible = product_with_grid(shop=shop)
    ProductFactory(shop=shop, status=Product.Status.DRAFT)
    hidden_shop = product_with_grid(shop=ProductFactory().shop)
    services.shop_set_status(shop=hidden_shop.shop, status=Shop.Status.SUSPENDED)
    assert result_ids(api.get("/api/v1/products/")) == [visible.pk]


def test_filters_search_and_ordering(api, shop, other_shop):
    top = CategoryFactory()
    child = CategoryFactory(parent=top)
    cheap = product_with_grid(shop=shop, title="碎花连衣裙", price_fen=5000, category=child)
    dear = product_with_grid(shop=shop, title="真丝连衣裙", price_fen=90000, category=top)
    theirs = product_with_grid(shop=other_shop, title="风衣", subtitle="配连衣裙", price_fen=20000)
    Product.objects.filter(pk=theirs.pk).update(sales_count=50)
    get = lambda **p: result_ids(api.get("/api/v1/products/", p))  # noqa: E731
    # Relevance: title matches (best sellers, then newest, first), then the subtitle match.
    assert get(q="连衣") == [dear.pk, cheap.pk, theirs.pk]
    assert get(q="连衣", ordering="price") == [cheap.pk, theirs.pk, dear.pk]
    assert get(q="连衣", ordering="-price") == [dear.pk, theirs.pk, cheap.pk]
    assert get(ordering="sales")[0] == theirs.pk
    assert get(category=top.pk, ordering="price") == [cheap.pk, dear.pk]
    assert get(category=child.pk) == [cheap.pk]
    assert get(shop=other_shop.pk) == [theirs.pk]
    assert get(price_min=10000, price_max=50000) == [theirs.pk]


def test_pagination_and_its_limit(api, shop):
    for i in range(5):
        product_with_grid(shop=shop, title=f"裙{i}", colors=("红",), sizes=())
    body = api.get("/api/v1/products/", {"page_size": 2, "page": 2}).json()
    assert body["count"] == 5 and len(body["results"]) == 2
    response = api.get("/api/v1/products/", {"page_size": 101})
    assert response.status_code == 400 and "page_size" in response.json()
    assert api.get("/api/v1/products/", {"page": 99}).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"category": "abc"},
        {"category": 999999},
        {"shop": 999999},
        {"price_min": -1},
        {"price_min": "cheap"},
        {"price_min": 500, "price_max": 100},
        {"ordering": "title"},
        {"page_size": 0},
        {"page_size": "many"},
    ],
)
def test_malformed_filters_are_400_with_a_message(api, params):
    response = api.get("/api/v1/products/", params)
    assert response.status_code == 400
    assert set(response.json()) & (set(params) | {"page_size"})


def test_product_detail_has_images_specs_and_skus(api, shop):
    product = product_with_grid(shop=shop, colors=("红色", "蓝色"), sizes=("S",), price_fen=1990, stock=4)
    ProductImageFactory(product=product, position=1)
    ProductImageFactory(product=product, position=0)
    SKU.objects.filter(product=product, spec_label="蓝色 / S").update(is_active=False)
    body = api.get(f"/api/v1/products/{product.pk}/").json()
    assert [s["name"] for s in body["specs"]] == ["颜色", "尺码"]
    assert [v["value"] for v in body["specs"][0]["values"]] == ["红色", "蓝色"]
    assert [(s["spec_label"], s["price_fen"], s["stock"]) for s in body["skus"]] == [("红色 / S", 1990, 4)]
    assert len(body["skus"][0]["spec_value_ids"]) == 2
    assert [i["position"] for i in body["images"]] == [0, 1]
    assert body["liked"] is False
    assert api.get("/api/v1/products/999999/").status_code == 404
    draft = ProductFactory(shop=shop, status=Product.Status.DRAFT)
    assert api.get(f"/api/v1/products/{draft.pk}/").status_code == 404


def test_shops_and_categories(api, shop, other_shop):
    services.shop_set_status(shop=other_shop, status=Shop.Status.SUSPENDED)
    top = CategoryFactory(name="女装")
    CategoryFactory(name="连衣裙", parent=top)
    assert [s["id"] for s in api.get("/api/v1/shops/").json()["results"]] == [shop.pk]
    assert api.get(f"/api/v1/shops/{other_shop.pk}/").status_code == 404
    tree = api.get("/api/v1/categories/").json()
    assert tree[0]["name"] == "女装" and tree[0]["children"][0]["name"] == "连衣裙"


def test_likes_through_the_api(api, shop, shopper):
    product = product_with_grid(shop=shop)
    assert api.post(f"/api/v1/products/{product.pk}/like/").status_code in (401, 403)
    api.force_authenticate(shopper)
    assert api.post(f"/api/v1/products/{product.pk}/like/").json() == {"liked": True, "like_count": 1}
    assert api.post(f"/api/v1/products/{product.pk}/like/").json() == {"liked": True, "like_count": 1}
    assert api.get(f"/api/v1/products/{product.pk}/").json()["liked"] is True
    assert api.delete(f"/api/v1/products/{product.pk}/like/").json() == {"liked": False, "like_count": 0}
    assert api.post("/api/v1/products/999999/like/").status_code == 404


def test_friends_liked_endpoint(api, shop, shopper):
    from accounts.models import Friendship

    friend = UserFactory()
    Friendship.objects.create(user=shopper, friend=friend)
    Friendship.objects.create(user=friend, friend=shopper)
    product = product_with_grid(shop=shop)
    services.product_like(user=friend, product=product)
    api.force_authenticate(shopper)
    body = api.get("/api/v1/products/friends-liked/").json()
    assert [(p["id"], p["friend_like_count"]) for p in body] == [(product.pk, 1)]


# --- Merchant endpoints ----------------------------------------------------------------------


@pytest.fixture
def staff_a(shop):
    return ShopMembershipFactory(shop=shop).user


def test_merchant_builds_a_product_end_to_end(api, shop):
    # The owner: prices are theirs (staff need the owner's leave: tests/shop/test_staff_permissions.py).
    api.force_authenticate(shop.owner)
    category = CategoryFactory()
    response = api.post(
        "/api/v1/merchant/products/",
        {
            "shop": shop.pk,
            "category": category.pk,
            "title": "新品",
            "description": "<b>好</b><script>x</script>",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    product_id = response.json()["id"]
    assert response.json()["status"] == "draft" and "script" not in response.json()["description"]
    response = api.put(
        f"/api/v1/merchant/products/{product_id}/specs/",
        {"specs": [{"name": "颜色", "values": ["红色", "蓝色"]}, {"name": "尺码", "values": ["S", "M"]}]},
        format="json",
    )
    skus = response.json()["skus"]
    assert len(skus) == 4
    # Not sellable yet: no prices.
    response = api.post(
        f"/api/v1/merchant/products/{product_id}/status/", {"status": "on_sale"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "product_not_sellable"
    response = api.patch(
        f"/api/v1/merchant/skus/{skus[0]['id']}/",
        {"price_fen": 2990, "stock": 5, "code": "RS"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["price_fen"] == 2990
    # Every active SKU needs a price to go on sale (a ¥0 one could be ordered but never paid).
    for other in skus[1:]:
        response = api.patch(f"/api/v1/merchant/skus/{other['id']}/", {"price_fen": 3990}, format="json")
        assert response.status_code == 200
    response = api.post(
        "/api/v1/merchant/stock/", {"items": [{"sku_id": s["id"], "stock": 9} for s in skus]}, format="json"
    )
    assert response.json() == {"changed": 4}
    response = api.post(
        f"/api/v1/merchant/products/{product_id}/images/", {"image": image_upload()}, format="multipart"
    )
    assert response.status_code == 201 and len(response.json()["images"]) == 1
    response = api.post(
        f"/api/v1/merchant/products/{product_id}/status/", {"status": "on_sale"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "on_sale"
    assert (
        api.patch(f"/api/v1/merchant/products/{product_id}/", {"title": "改名"}, format="json").json()[
            "title"
        ]
        == "改名"
    )


def test_merchant_cannot_touch_another_shop(api, staff_a, shop, other_shop):
    theirs = product_with_grid(shop=other_shop, title="乙店", stock=3)
    their_sku = theirs.skus.first()
    mine = product_with_grid(shop=shop, title="甲店", stock=3)
    api.force_authenticate(staff_a)
    assert [p["id"] for p in api.get("/api/v1/merchant/products/").json()["results"]] == [mine.pk]
    assert api.get(f"/api/v1/merchant/products/{theirs.pk}/").status_code == 404
    assert (
        api.patch(f"/api/v1/merchant/products/{theirs.pk}/", {"title": "x"}, format="json").status_code == 404
    )
    assert (
        api.post(f"/api/v1/merchant/products/{theirs.pk}/status/", {"status": "off_shelf"}).status_code == 404
    )
    assert (
        api.put(f"/api/v1/merchant/products/{theirs.pk}/specs/", {"specs": []}, format="json").status_code
        == 404
    )
    assert api.patch(f"/api/v1/merchant/skus/{their_sku.pk}/", {"stock": 0}, format="json").status_code == 404
    response = api.post(
        "/api/v1/merchant/stock/",
        {"items": [{"sku_id": mine.skus.first().pk, "stock": 1}, {"sku_id": their_sku.pk, "stock": 0}]},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "foreign_object"
    response = api.post(
        "/api/v1/merchant/products/",
        {"shop": other_shop.pk, "category": CategoryFactory().pk, "title": "偷偷"},
        format="json",
    )
    assert response.status_code == 400 and "shop" in response.json()
    their_sku.refresh_from_db()
    theirs.refresh_from_db()
    assert (their_sku.stock, theirs.title, theirs.status) == (3, "乙店", "on_sale")
    assert mine.skus.first().stock == 3


def test_shoppers_have_no_merchant_access(api, shopper, shop):
    product = product_with_grid(shop=shop)
    api.force_authenticate(shopper)
    assert api.get("/api/v1/merchant/products/").json()["results"] == []
    assert api.get(f"/api/v1/merchant/products/{product.pk}/").status_code == 404
    anonymous = APIClient()
    assert anonymous.get("/api/v1/merchant/products/").status_code in (401, 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_fen": -1}, "price_fen"),
        ({"stock": -5}, "stock"),
        ({"stock": "lots"}, "stock"),
        ({"price_fen": 500, "original_price_fen": 100}, "original_price_fen"),
    ],
)
def test_bad_sku_input_is_400(api, merchant, shop, body, field):
    sku = product_with_grid(shop=shop, price_fen=1000, stock=2).skus.first()
    api.force_authenticate(merchant)
    response = api.patch(f"/api/v1/merchant/skus/{sku.pk}/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    sku.refresh_from_db()
    assert (sku.price_fen, sku.stock) == (1000, 2)


def test_bad_uploads_are_400(api, merchant, shop, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    product = product_with_grid(shop=shop)
    api.force_authenticate(merchant)
    url = f"/api/v1/merchant/products/{product.pk}/images/"
    response = api.post(url, {"image": SimpleUploadedFile("x.jpg", b"\xff\xd8 nope")}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "image_rejected"
    settings.MAX_IMAGE_UPLOAD_BYTES = 10
    response = api.post(url, {"image": image_upload()}, format="multipart")
    assert response.status_code == 400 and "image" in response.json()
    assert api.post(url, {}, format="multipart").status_code == 400
    assert product.images.count() == 0


def test_bad_specs_are_400(api, merchant, shop):
    product = product_with_grid(shop=shop)
    api.force_authenticate(merchant)
    url = f"/api/v1/merchant/products/{product.pk}/specs/"
    assert api.put(url, {"specs": [{"name": "颜色", "values": []}]}, format="json").status_code == 400
    response = api.put(
        url, {"specs": [{"name": "颜色", "values": ["a"]}, {"name": "颜色", "values": ["b"]}]}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_specs"


# --- Query counts -----------------------------------------------------------------------------


@pytest.fixture
def many_products(shop):
    products = []
    for i in range(12):
        product = product_with_grid(
            shop=shop, title=f"裙{i}", colors=("红", "蓝", "白"), sizes=("S", "M", "L")
        )
        for _ in range(3):
            ProductImageFactory(product=product)
        products.append(product)
    return products


def test_api_query_counts_do_not_grow(api, merchant, many_products, django_assert_max_num_queries):
    cache.clear()
    with django_assert_max_num_queries(2):
        assert len(result_ids(api.get("/api/v1/products/", {"q": "裙"}))) == 12
    with django_assert_max_num_queries(6):
        assert api.get(f"/api/v1/products/{many_products[0].pk}/").status_code == 200
    api.force_authenticate(merchant)
    with django_assert_max_num_queries(10):
        assert len(api.get("/api/v1/merchant/products/").json()["results"]) == 12
    with django_assert_max_num_queries(9):
        assert api.get(f"/api/v1/products/{many_products[0].pk}/").status_code == 200


def test_openapi_schema_lists_catalog_endpoints(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/products/",
        "/api/v1/products/{id}/",
        "/api/v1/merchant/stock/",
        "/api/v1/categories/",
    ]:
        assert path in paths, path
