"""shop/demo.py: the demo catalog is complete, drawn locally, quick, and a second run changes nothing."""

import io

import pytest
from django.db.models import Max

from shop import demo
from shop.models import SKU, Category, Product, ProductImage, ProductLike, Shop, ShopMembership

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        "shops": Shop.objects.count(),
        "memberships": ShopMembership.objects.count(),
        "categories": Category.objects.count(),
        "products": Product.objects.count(),
        "skus": SKU.objects.count(),
        "images": ProductImage.objects.count(),
        "likes": ProductLike.objects.count(),
        "updated": Product.objects.aggregate(latest=Max("updated_at"))["latest"],
        "stock": sorted(SKU.objects.values_list("pk", "stock", "price_fen")),
    }


def test_seed_builds_the_demo_catalog_and_is_idempotent():
    logins = demo.seed(stdout=io.StringIO())
    first = snapshot()
    assert first["shops"] == 2
    assert first["categories"] == 8
    assert Category.objects.filter(parent__isnull=False).count() == 5
    assert first["products"] >= 60
    assert Product.objects.on_sale().count() == first["products"]
    assert first["images"] == 2 * first["products"]
    assert first["likes"] > 0
    for shop in Shop.objects.all():
        roles = sorted(shop.memberships.values_list("role", flat=True))
        assert roles == ["owner", "staff"]
        assert shop.owner.is_staff
    # Every product has a SKU grid with at least one buyable SKU, and some combinations sold out.
    assert not Product.objects.exclude(skus__price_fen__gt=0).exists()
    assert SKU.objects.filter(stock=0).exists()
    assert {phone for _role, phone, _password in logins} == {"13800000011", "13800000012"}

    demo.seed(stdout=io.StringIO())
    assert snapshot() == first


def test_pictures_are_real_images_with_the_title_drawn():
    from PIL import Image

    data = demo.product_picture("碎花连衣裙")
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (640, 640)
    assert demo.product_picture("碎花连衣裙") == data
    assert demo.product_picture("铁观音") != data
