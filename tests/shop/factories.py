"""Catalog factories. A product made here is on sale, in an active shop, with one SKU in stock."""

import factory

from shop.models import SKU, Category, Product, Shop, ShopMembership
from tests.factories import UserFactory


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

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
