"""Catalog services: the rules (on sale needs a priced SKU, stock ≥ 0), the SKU grid, images,
sanitising, likes, idempotency, and cache invalidation on edit."""

import pytest
from django.core.cache import cache
from django.db import IntegrityError
from django.test import override_settings

from shop.catalog_cache import GENERATION_KEY as CATALOG_GENERATION_KEY
from shop.catalog_cache import layered_key, product_key
from shop.models import SKU, Product, ProductLike
from shop.services import catalog as services
from tests.shop.factories import ProductFactory, image_upload, product_with_grid

pytestmark = pytest.mark.django_db


def grid_labels(product):
    return sorted(product.skus.values_list("spec_label", flat=True))


def test_new_product_is_a_draft_with_one_default_sku(shop):
    from tests.shop.factories import CategoryFactory

    product = services.product_create(shop=shop, category=CategoryFactory(), title=" 草莓蛋糕 ")
    assert product.status == Product.Status.DRAFT
    assert product.title == "草莓蛋糕"
    assert list(product.skus.values_list("spec_label", "price_fen", "stock")) == [("", 0, 0)]


def test_specs_generate_the_full_grid_and_second_call_changes_nothing(shop):
    product = ProductFactory(shop=shop, status=Product.Status.DRAFT)
    specs = [
        services.SpecInput(name="颜色", values=("红色", "蓝色", "白色")),
        services.SpecInput(name="尺码", values=("S", "M")),
    ]
    services.product_specs_set(product=product, specs=specs)
    assert grid_labels(product) == sorted(f"{c} / {s}" for c in ("红色", "蓝色", "白色") for s in ("S", "M"))
    ids_before = set(product.skus.values_list("id", flat=True))
    services.product_specs_set(product=product, specs=specs)
    assert set(product.skus.values_list("id", flat=True)) == ids_before
    # Every SKU has exactly one value per dimension.
    for sku in product.skus.prefetch_related("spec_values"):
        assert len(sku.spec_values.all()) == 2


def test_changing_specs_keeps_surviving_skus_and_drops_removed_ones(shop):
    product = product_with_grid(shop=shop, colors=("红色", "蓝色"), sizes=("S", "M"), price_fen=5000, stock=7)
    red_s = product.skus.get(spec_label="红色 / S")
    services.product_specs_set(
        product=product,
        specs=[
            services.SpecInput(name="颜色", values=("红色", "黑色")),
            services.SpecInput(name="尺码", values=("S", "M")),
        ],
    )
    assert grid_labels(product) == ["红色 / M", "红色 / S", "黑色 / M", "黑色 / S"]
    red_s.refresh_from_db()
    assert (red_s.price_fen, red_s.stock) == (5000, 7)
    new_sku = product.skus.get(spec_label="黑色 / S")
    assert (new_sku.price_fen, new_sku.stock) == (5000, 0)


def test_dropping_a_dimension_collapses_the_grid(shop):
    product = product_with_grid(shop=shop, colors=("红色", "蓝色"), sizes=("S", "M"))
    services.product_specs_set(
        product=product, specs=[services.SpecInput(name="颜色", values=("红色", "蓝色"))]
    )
    assert grid_labels(product) == ["红色", "蓝色"]
    services.product_specs_set(product=product, specs=[])
    assert grid_labels(product) == [""]


@pytest.mark.parametrize(
    "specs",
    [
        [services.SpecInput(name="", values=("红色",))],
        [services.SpecInput(name="颜色", values=())],
        [services.SpecInput(name="颜色", values=("红",)), services.SpecInput(name="颜色", values=("蓝",))],
        [services.SpecInput(name=f"维度{i}", values=("a",)) for i in range(4)],
        [
            services.SpecInput(name="a", values=tuple(map(str, range(30)))),
            services.SpecInput(name="b", values=tuple(map(str, range(30)))),
        ],
    ],
)
def test_bad_specs_are_refused_and_nothing_changes(shop, specs):
    product = product_with_grid(shop=shop)
    before = grid_labels(product)
    with pytest.raises(services.InvalidSpecs):
        services.product_specs_set(product=product, specs=specs)
    assert grid_labels(product) == before


def test_on_sale_needs_an_active_sku_priced_above_zero(shop):
    product = ProductFactory(shop=shop, status=Product.Status.DRAFT)
    services.product_specs_set(product=product, specs=[services.SpecInput(name="颜色", values=("红色",))])
    with pytest.raises(services.ProductNotSellable):
        services.product_set_status(product=product, status=Product.Status.ON_SALE)
    sku = product.skus.get()
    services.sku_update(sku=sku, price_fen=1000, original_price_fen=None, stock=0, is_active=False)
    with pytest.raises(services.ProductNotSellable):
        services.product_set_status(product=product, status=Product.Status.ON_SALE)
    services.sku_update(sku=sku, price_fen=1000, original_price_fen=None, stock=0, is_active=True)
    services.product_set_status(product=product, status=Product.Status.ON_SALE)
    product.refresh_from_db()
    assert product.status == Product.Status.ON_SALE
    assert product.price_fen == 1000


def test_switching_off_the_last_priced_sku_takes_the_product_off_shelf(shop):
    product = product_with_grid(shop=shop, colors=("红色",), sizes=())
    sku = product.skus.get()
    with pytest.raises(services.InvalidPrice):  # ¥0 on sale is refused: it could never be paid
        services.sku_update(sku=sku, price_fen=0, original_price_fen=None, stock=3)
    services.sku_update(sku=sku, is_active=False)
    product.refresh_from_db()
    assert product.status == Product.Status.OFF_SHELF
    assert product.price_fen == 0


def test_product_price_follows_the_cheapest_active_sku(shop):
    product = product_with_grid(shop=shop, price_fen=3000)
    cheapest = product.skus.first()
    services.sku_update(sku=cheapest, price_fen=1200, original_price_fen=1500, stock=1)
    product.refresh_from_db()
    assert product.price_fen == 1200
    services.sku_update(sku=cheapest, price_fen=1200, original_price_fen=1500, stock=1, is_active=False)
    product.refresh_from_db()
    assert product.price_fen == 3000


@pytest.mark.parametrize(
    ("price", "original", "stock", "error"),
    [
        (-1, None, 1, services.InvalidPrice),
        (100, 50, 1, services.InvalidPrice),
        (100, None, -1, services.InvalidStock),
    ],
)
def test_negative_prices_and_stock_are_refused(shop, price, original, stock, error):
    product = product_with_grid(shop=shop, price_fen=500, stock=4)
    sku = product.skus.first()
    with pytest.raises(error):
        services.sku_update(sku=sku, price_fen=price, original_price_fen=original, stock=stock)
    sku.refresh_from_db()
    assert (sku.price_fen, sku.stock) == (500, 4)


def test_database_refuses_negative_stock_even_past_the_services(sku):
    with pytest.raises(IntegrityError):
        SKU.objects.filter(pk=sku.pk).update(stock=-1)


def test_bulk_stock_refuses_a_sku_of_another_shop_and_changes_nothing(shop, other_shop):
    mine = product_with_grid(shop=shop, stock=1).skus.first()
    theirs = product_with_grid(shop=other_shop, stock=1).skus.first()
    with pytest.raises(services.ForeignObject):
        services.skus_stock_set(shop_ids=[shop.pk], items=[(mine.pk, 50), (theirs.pk, 50)])
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.stock, theirs.stock) == (1, 1)
    assert services.skus_stock_set(shop_ids=[shop.pk], items=[(mine.pk, 50)]) == 1
    assert services.skus_stock_set(shop_ids=[shop.pk], items=[(mine.pk, 50)]) == 0


def test_bulk_status_reports_refusals_and_changes_the_rest(shop):
    sellable = product_with_grid(shop=shop)
    services.product_set_status(product=sellable, status=Product.Status.OFF_SHELF)
    unpriced = ProductFactory(shop=shop, status=Product.Status.DRAFT)
    result = services.products_set_status(products=[sellable, unpriced], status=Product.Status.ON_SALE)
    assert [p.pk for p in result.changed] == [sellable.pk]
    assert [p.pk for p, _message in result.refused] == [unpriced.pk]
    again = services.products_set_status(products=[sellable], status=Product.Status.ON_SALE)
    assert again.changed == [] and again.refused == []


def test_description_is_sanitised(shop):
    from tests.shop.factories import CategoryFactory

    product = services.product_create(
        shop=shop,
        category=CategoryFactory(),
        title="t",
        description='<p onclick="x()">好<script>alert(1)</script><a href="javascript:alert(1)">x</a>'
        '<img src="https://example.com/a.png" onerror="y()"></p>',
    )
    assert "script" not in product.description
    assert "onclick" not in product.description and "onerror" not in product.description
    assert "javascript:" not in product.description
    assert "<p>好" in product.description
    assert 'src="https://example.com/a.png"' in product.description


def test_images_are_checked_to_be_real_and_small_enough(shop, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    product = product_with_grid(shop=shop)
    with pytest.raises(services.ImageRejected):
        services.product_image_add(
            product=product, upload=SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
        )
    settings.MAX_IMAGE_UPLOAD_BYTES = 100
    with pytest.raises(services.ImageRejected):
        services.product_image_add(product=product, upload=image_upload(size=(200, 200)))
    settings.MAX_IMAGE_UPLOAD_BYTES = 5 * 1024 * 1024
    first = services.product_image_add(product=product, upload=image_upload())
    second = services.product_image_add(product=product, upload=image_upload())
    assert (first.position, second.position) == (0, 1)
    assert product.images.count() == 2
    # Thumbnails exist as soon as the image is saved.
    assert first.thumbnail.storage.exists(first.thumbnail.name)


def test_likes_are_idempotent_and_counted(shop, shopper):
    product = product_with_grid(shop=shop)
    assert services.product_like(user=shopper, product=product) is True
    assert services.product_like(user=shopper, product=product) is False
    product.refresh_from_db()
    assert product.like_count == 1
    assert services.product_unlike(user=shopper, product=product) is True
    assert services.product_unlike(user=shopper, product=product) is False
    product.refresh_from_db()
    assert product.like_count == 0
    assert not ProductLike.objects.exists()


def test_a_draft_cannot_be_liked(shop, shopper):
    draft = ProductFactory(shop=shop, status=Product.Status.DRAFT)
    with pytest.raises(services.DomainError):
        services.product_like(user=shopper, product=draft)


def test_shop_create_is_idempotent_and_makes_the_owner_staff(db):
    from tests.factories import UserFactory

    owner = UserFactory()
    shop = services.shop_create(name="店", slug="dian", owner=owner)
    again = services.shop_create(name="店", slug="dian", owner=owner)
    assert again.pk == shop.pk
    owner.refresh_from_db()
    assert owner.is_staff
    assert shop.memberships.get().role == "owner"
    with pytest.raises(services.SlugTaken):
        services.shop_create(name="别", slug="dian", owner=UserFactory())


@override_settings(LANGUAGES=[("zh-hans", "中文"), ("en", "English")])
def test_edits_drop_the_cached_pages_of_the_product(shop, django_capture_on_commit_callbacks):
    product = product_with_grid(shop=shop)
    keys = [product_key("page", product.pk, "zh-hans"), product_key("page", product.pk, "en")]
    keys += [layered_key(key) for key in keys]  # as stored now, and as earlier versions stored it
    for key in keys:
        cache.set(key, "stale")
    cache.set(CATALOG_GENERATION_KEY, 5, timeout=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(product=product, title="新标题")
    assert cache.get_many(keys) == {}
    assert cache.get(CATALOG_GENERATION_KEY) == 6
    # An edit that changes nothing drops nothing.
    cache.set(keys[0], "fresh")
    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(product=product, title="新标题")
    assert cache.get(keys[0]) == "fresh"
