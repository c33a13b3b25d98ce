"""Products: creating drafts, editing text and category, moving between draft, on sale and off shelf.

A product goes on sale only with at least one active SKU priced above zero; its `price_fen` is kept at
the lowest price of those SKUs. Every change drops the product's cached storefront parts on commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Min
from django.utils.translation import gettext as _

from config.exceptions import DomainError
from shop.catalog_cache import catalog_cache_invalidate
from shop.models import SKU, Category, Product, Shop
from shop.services.catalog_input import description_sanitize
from shop.services.errors import ProductNotSellable


def _check_category(category: Category | None) -> None:
    if category is None:
        raise DomainError(_("Pick a category."), field="category")


def product_create(
    *,
    shop: Shop,
    category: Category,
    title: str,
    subtitle: str = "",
    description: str = "",
) -> Product:
    """Create a draft product with one default SKU (price 0, stock 0) until specs are added."""
    _check_category(category)
    if not title.strip():
        raise DomainError(_("A title is required."), field="title")
    with transaction.atomic():
        product = Product.objects.create(
            shop=shop,
            category=category,
            title=title.strip(),
            subtitle=subtitle.strip(),
            description=description_sanitize(description),
            status=Product.Status.DRAFT,
        )
        SKU.objects.create(product=product, spec_label="", price_fen=0, stock=0)
    return product


def product_update(
    *,
    product: Product,
    category: Category | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    description: str | None = None,
) -> Product:
    """Change a product's text or category. Only given fields change; unchanged values write nothing."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        changed = []
        updates = {
            "category": category,
            "title": title.strip() if title is not None else None,
            "subtitle": subtitle.strip() if subtitle is not None else None,
            "description": description_sanitize(description) if description is not None else None,
        }
        if updates["title"] == "":
            raise DomainError(_("A title is required."), field="title")
        for field, value in updates.items():
            if value is not None and getattr(product, field) != value:
                setattr(product, field, value)
                changed.append(field)
        if changed:
            product.save(update_fields=[*changed, "updated_at"])
            catalog_cache_invalidate(product_ids=[product.pk])
    return product


def _sellable(product: Product) -> bool:
    # At least one active SKU with a price, and no active SKU at ¥0 (it could be ordered but never paid).
    prices = list(product.skus.filter(is_active=True).values_list("price_fen", flat=True))
    return bool(prices) and min(prices) > 0


def product_set_status(*, product: Product, status: str) -> Product:
    """Move a product between draft, on sale and off shelf.

    On sale needs at least one active SKU priced above zero (ProductNotSellable otherwise). The
    product row is locked while checking, so a concurrent SKU edit cannot slip between check and
    write. Setting the status it already has changes nothing.
    """
    return _product_set_status(product=product, status=status)[0]


def _product_set_status(*, product: Product, status: str) -> tuple[Product, bool]:
    if status not in Product.Status.values:
        raise DomainError(_("Unknown product status."), field="status")
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        if product.status == status:
            return product, False
        if status == Product.Status.ON_SALE and not _sellable(product):
            raise ProductNotSellable(
                _("“%(title)s” needs every active SKU priced above zero (and at least one) to go on sale.")
                % {"title": product.title},
                field="status",
            )
        product.status = status
        product.save(update_fields=["status", "updated_at"])
        catalog_cache_invalidate(product_ids=[product.pk])
    return product, True


@dataclass
class BulkResult:
    changed: list[Product]
    refused: list[tuple[Product, str]]


def products_set_status(*, products: Iterable[Product], status: str) -> BulkResult:
    """Bulk put on sale / take off shelf. Each product is its own use case: one refusal (no priced
    SKU) does not stop the others, and is reported back."""
    result = BulkResult(changed=[], refused=[])
    for product in sorted(products, key=lambda p: p.pk):
        try:
            updated, changed = _product_set_status(product=product, status=status)
        except DomainError as error:
            result.refused.append((product, error.message))
            continue
        if changed:
            result.changed.append(updated)
    return result


def _product_refresh_price(product_id: int) -> None:
    """Keep Product.price_fen at the lowest price of its active, priced SKUs (0 when none)."""
    lowest = SKU.objects.filter(product_id=product_id, is_active=True, price_fen__gt=0).aggregate(
        lowest=Min("price_fen")
    )["lowest"]
    Product.objects.filter(pk=product_id).exclude(price_fen=lowest or 0).update(price_fen=lowest or 0)


def _take_off_sale_if_unsellable(product_id: int) -> None:
    # An on-sale product whose last priced SKU was switched off or zeroed leaves the shelf by itself,
    # rather than being shown with nothing to buy.
    if not SKU.objects.filter(product_id=product_id, is_active=True, price_fen__gt=0).exists():
        Product.objects.filter(pk=product_id, status=Product.Status.ON_SALE).update(
            status=Product.Status.OFF_SHELF
        )
