"""Catalog factories. A product made here is on sale, in an active shop, with one SKU in stock."""

import factory

from shop.models import SKU, Category, Product, Shop, ShopMembership
from tests.factories import UserFactory


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"小店{n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    owner = factory.SubFactory(UserFactory, is_staff=True)

    @factory.post_generation
    def owner_membership(obj, create, extracted, **kwargs):
        if create:
            ShopMembership.objects.get_or_create(shop=obj, user=obj.owner, defaults={"role": "owner"})


class ShopMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShopMembership

    shop = factory.SubFactory(ShopFactory)
    user = factory.SubFactory(UserFactory, is_staff=True)
    role = ShopMembership.Role.STAFF


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"分类{n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    shop = factory.SubFactory(ShopFactory)
    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"商品{n}")
    status = Product.Status.ON_SALE
    price_fen = 9900


class SKUFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SKU

    product = factory.SubFactory(ProductFactory)
    spec_label = "默认"
    price_fen = 9900
    stock = 100


# --- Catalog extras (images, specs, likes) ------------------------------------------------------


def image_bytes(*, size=(32, 32), color=(220, 80, 80), image_format="PNG") -> bytes:
    """A small real image, drawn in memory."""
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, format=image_format)
    return buffer.getvalue()


def image_upload(name="photo.png", **kwargs):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, image_bytes(**kwargs), content_type="image/png")


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "shop.ProductImage"

    product = factory.SubFactory(ProductFactory)
    image = factory.LazyFunction(lambda: image_upload())
    position = factory.Sequence(lambda n: n)


class ProductLikeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "shop.ProductLike"

    user = factory.SubFactory(UserFactory)
    product = factory.SubFactory(ProductFactory)


def product_with_grid(
    *,
    shop=None,
    title="连衣裙",
    colors=("红色", "蓝色"),
    sizes=("S", "M"),
    price_fen=19900,
    stock=10,
    **product_fields,
):
    """An on-sale product with a 颜色 × 尺码 SKU grid, built through the catalog services."""
    from shop.services import catalog as services

    product = ProductFactory(
        shop=shop or ShopFactory(), title=title, status=Product.Status.DRAFT, price_fen=0, **product_fields
    )
    specs = []
    if colors:
        specs.append(services.SpecInput(name="颜色", values=tuple(colors)))
    if sizes:
        specs.append(services.SpecInput(name="尺码", values=tuple(sizes)))
    grid = services.product_specs_set(product=product, specs=specs)
    for sku in grid:
        services.sku_update(sku=sku, price_fen=price_fen, original_price_fen=None, stock=stock)
    services.product_set_status(product=product, status=Product.Status.ON_SALE)
    product.refresh_from_db()
    return product
