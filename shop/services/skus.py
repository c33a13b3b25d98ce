"""What merchants set on SKUs: price, original price, code, whether it is sold, and stock counts.

Orders move stock elsewhere (shop.services.stock); these are the merchant's own numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db import transaction
from django.utils.translation import gettext as _

from config.exceptions import DomainError
from shop.catalog_cache import catalog_cache_invalidate
from shop.models import SKU, Product
from shop.services.catalog_input import _check_prices, _check_stock
from shop.services.errors import EditConflict, ForeignObject, InvalidPrice
from shop.services.products import _product_refresh_price, _take_off_sale_if_unsellable


class _Unchanged:
    """Marks a SKU field the caller leaves alone (sku_update writes only the fields it is given)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()

_SKU_EDITABLE = ("price_fen", "original_price_fen", "stock", "code", "is_active")


def _shown(field: str, value) -> str:
    if field in ("price_fen", "original_price_fen"):
        from shop.templatetags.money import format_fen

        return format_fen(value) if value is not None else "—"
    if field == "is_active":
        return _("switched on") if value else _("switched off")
    return str(value)


def _moved_message(field: str, sku: SKU, value) -> str:
    shown = _shown(field, value)
    messages = {
        "stock": _("Stock changed to %(value)s while you were editing; check it and save again."),
        "price_fen": _("The price changed to %(value)s while you were editing; check it and save again."),
        "original_price_fen": _(
            "The original price changed to %(value)s while you were editing; check it and save again."
        ),
        "code": _("The code changed to %(value)s while you were editing; check it and save again."),
        "is_active": _("Active changed to %(value)s while you were editing; check it and save again."),
    }
    message = messages[field] % {"value": shown}
    return f"{sku.spec_label}: {message}" if sku.spec_label else message


def sku_update(
    *,
    sku: SKU,
    price_fen: int | _Unchanged = UNCHANGED,
    original_price_fen: int | None | _Unchanged = UNCHANGED,
    stock: int | _Unchanged = UNCHANGED,
    code: str | _Unchanged = UNCHANGED,
    is_active: bool | _Unchanged = UNCHANGED,
    expected: Mapping[str, object] | None = None,
) -> SKU:
    """Set some of a SKU's price, original price, stock, code and whether it is sold.

    Only the fields given are written; the others keep whatever they are now (a sale that took
    stock meanwhile is never undone by an edit of the price). `expected` holds, per field, the value
    the editor saw when the edit began (the admin's page load, an API client's read): a field being
    written whose row value moved since then is refused with EditConflict ("Stock changed to 7 while
    you were editing") and nothing is written. A field missing from `expected` is written as given.

    Refuses a ¥0 price on an active SKU of a product on sale (a ¥0 order could never be paid).
    Locks the SKU row; values are checked against the row under that lock. Same values write
    nothing. If this leaves an on-sale product with no active priced SKU, the product goes off shelf.
    """
    given = {
        "price_fen": price_fen,
        "original_price_fen": original_price_fen,
        "stock": stock,
        "code": code.strip() if isinstance(code, str) else code,
        "is_active": is_active,
    }
    given = {field: value for field, value in given.items() if value is not UNCHANGED}
    if "stock" in given:
        _check_stock(given["stock"])
    expected = dict(expected or {})
    with transaction.atomic():
        sku = SKU.objects.select_for_update().select_related("product").get(pk=sku.pk)
        for field, value in given.items():
            now = getattr(sku, field)
            if field in expected and now != expected[field] and now != value:
                raise EditConflict(_moved_message(field, sku, now), field=field)
        final = {field: given.get(field, getattr(sku, field)) for field in _SKU_EDITABLE}
        if "price_fen" in given or "original_price_fen" in given:
            _check_prices(price_fen=final["price_fen"], original_price_fen=final["original_price_fen"])
        if (
            ("price_fen" in given or "is_active" in given)
            and final["is_active"]
            and final["price_fen"] <= 0
            and sku.product.status == Product.Status.ON_SALE
        ):
            raise InvalidPrice(
                _("A SKU on sale needs a price above ¥0; switch it off instead."), field="price_fen"
            )
        changed = [field for field in _SKU_EDITABLE if getattr(sku, field) != final[field]]
        if not changed:
            return sku
        for field in changed:
            setattr(sku, field, final[field])
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
