"""imagekit's receivers listen to the models with image specs only (shop/imagekit_signals.py): their
thumbnails still appear when an image is saved, and creating any other model sends no signal."""

import pytest
from django.db.models.signals import post_init, post_save

from accounts.models import User
from outbox.models import Message
from shop.models import Order, OrderLine, ProductImage, Shop
from shop.services import catalog as services
from tests.shop.factories import ProductFactory, image_upload

pytestmark = pytest.mark.django_db


def test_only_models_with_image_specs_are_listened_to():
    assert post_init.has_listeners(ProductImage) and post_save.has_listeners(ProductImage)
    assert post_init.has_listeners(Shop) and post_save.has_listeners(Shop)
    for model in (Order, OrderLine, Message, User):
        assert not post_init.has_listeners(model), model


def test_a_saved_image_and_a_changed_logo_get_their_thumbnails():
    product = ProductFactory()
    image = services.product_image_add(product=product, upload=image_upload())
    assert image.thumbnail.storage.exists(image.thumbnail.name)
    assert image.large.storage.exists(image.large.name)
    shop = Shop.objects.get(pk=product.shop_id)  # loaded: imagekit notes the logo it had
    shop.logo = image_upload(name="logo.png")
    shop.save()
    assert shop.logo_thumbnail.storage.exists(shop.logo_thumbnail.name)
