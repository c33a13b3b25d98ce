"""What merchants set on SKUs: price, original price, code, whether it is sold, and stock counts.

Orders move stock elsewhere (shop.services.stock); these are the merchant's own numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils.translation import gettext as _

from config.exceptions import DomainError
from shop.catalog_cache import catalog_cache_invalidate
from shop.models import SKU, Product
from shop.services.catalog_input import _check_prices, _check_stock
from shop.services.errors import ForeignObject
from shop.services.products import _product_refresh_price, _take_off_sale_if_unsellable


def sku_update(
    *,
    sku: SKU,
    price_fen: int,
    original_price_fen: int | None,
    stock: int,
    code: str = "",
    is_active: bool = True,
) -> SKU:
    """Set a SKU's price, original price, stock, code and whether it is sold.

    Locks the SKU row. Same values write nothing. If this leaves an on-sale product with no active
    priced SKU, the product goes off shelf.
    """
    _check_prices(price_fen=price_fen, original_price_fen=original_price_fen)
    _check_stock(stock)
    with transaction.atomic():
        sku = SKU.objects.select_for_update().get(pk=sku.pk)
        values = {
            "price_fen": price_fen,
            "original_price_fen": original_price_fen,
            "stock": stock,
            "code": code.strip(),
            "is_active": is_active,
        }
        changed = [field for field, value in values.items() if getattr(sku, field) != value]
        if not changed:
            return sku
        for field in changed:
            setattr(sku, field, values[field])
        sku.save(update_fields=changed)
        _product_refresh_price(sku.product_id)
        _take_off_sale_if_unsellable(sku.product_id)
        catalog_cache_invalidate(product_ids=[sku.product_id])
    return sku


def sku_stock_set(*, sku: SKU, stock: int) -> SKU:
    """Set one SKU's stock to an absolute number (a stock count), never below zero."""
    _check_stock(stock)
    with transaction.atomic():
        updated = SKU.objects.filter(pk=sku.pk).exclude(stock=stock).update(stock=stock)
        if updated:
            catalog_cache_invalidate(product_ids=[sku.product_id])
    sku.stock = stock
    return sku


def skus_stock_set(*, shop_ids: Iterable[int] | None, items: Sequence[tuple[int, int]]) -> int:
    """Set stock for many SKUs at once: items are (sku_id, stock).

    With shop_ids given (merchant staff), every SKU must belong to one of those shops, else the
    whole request is refused with ForeignObject and nothing changes. Rows are locked in id order.
    Returns how many SKUs changed.
    """
    for _sku_id, stock in items:
        _check_stock(stock)
    wanted = dict(items)
    if len(wanted) != len(items):
        raise DomainError(_("Each SKU may appear once."), field="items")
    with transaction.atomic():
        queryset = SKU.objects.filter(pk__in=wanted).order_by("pk")
        if shop_ids is not None:
            queryset = queryset.filter(product__shop_id__in=list(shop_ids))
        rows = list(queryset.select_for_update().values_list("pk", "product_id", "stock"))
        if len(rows) != len(wanted):
            missing = sorted(set(wanted) - {pk for pk, _p, _s in rows})
            raise ForeignObject(
                _("Unknown SKU or not of your shop: %(ids)s") % {"ids": ", ".join(map(str, missing))},
                field="items",
            )
        changed_products = set()
        changed = 0
        for pk, product_id, stock in rows:
            if stock != wanted[pk]:
                SKU.objects.filter(pk=pk).update(stock=wanted[pk])
                changed_products.add(product_id)
                changed += 1
        if changed_products:
            catalog_cache_invalidate(product_ids=changed_products)
    return changed


def products_stock_set(*, products: Iterable[Product], stock: int) -> int:
    """Bulk action: set every active SKU of these products to the same stock. Returns SKUs changed."""
    _check_stock(stock)
    product_ids = sorted(p.pk for p in products)
    with transaction.atomic():
        ids = list(
            SKU.objects.filter(product_id__in=product_ids, is_active=True)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        changed = SKU.objects.filter(pk__in=ids).exclude(stock=stock).update(stock=stock)
        if changed:
            catalog_cache_invalidate(product_ids=product_ids)
    return changed
