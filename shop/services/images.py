"""Product images: add, move or replace, delete, reorder. Uploads are checked to be real images."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from shop.catalog_cache import catalog_cache_invalidate
from shop.models import Product, ProductImage
from shop.services.catalog_input import _check_position, image_validate
from shop.services.errors import ForeignObject


def product_image_add(*, product: Product, upload, position: int | None = None) -> ProductImage:
    """Attach a validated image. Without a position it goes last."""
    _check_position(position)
    image_validate(upload=upload)
    with transaction.atomic():
        Product.objects.select_for_update().filter(pk=product.pk).first()
        if position is None:
            last = product.images.order_by("-position").values_list("position", flat=True).first()
            position = 0 if last is None else last + 1
        image = ProductImage.objects.create(product=product, image=upload, position=position)
        catalog_cache_invalidate(product_ids=[product.pk])
    return image


def product_image_update(*, image: ProductImage, position: int, upload=None) -> ProductImage:
    """Move an image (and optionally replace its file). Same values write nothing."""
    _check_position(position)
    with transaction.atomic():
        changed = []
        if upload:
            image_validate(upload=upload)
            image.image = upload
            changed.append("image")
        if image.position != position:
            image.position = position
            changed.append("position")
        if changed:
            image.save(update_fields=changed)
            catalog_cache_invalidate(product_ids=[image.product_id])
    return image


def product_image_delete(*, image: ProductImage) -> None:
    with transaction.atomic():
        deleted, _rows = ProductImage.objects.filter(pk=image.pk).delete()
        if deleted:
            catalog_cache_invalidate(product_ids=[image.product_id])


def product_images_reorder(*, product: Product, image_ids: Sequence[int]) -> None:
    """Put the product's images in the given order. Ids of other products' images are refused."""
    with transaction.atomic():
        own = set(product.images.values_list("id", flat=True))
        if set(image_ids) - own:
            raise ForeignObject(field="image_ids")
        for position, image_id in enumerate(image_ids):
            ProductImage.objects.filter(pk=image_id).exclude(position=position).update(position=position)
        catalog_cache_invalidate(product_ids=[product.pk])
