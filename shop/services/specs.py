"""Spec dimensions (颜色, 尺码) and the SKU grid they generate, one SKU per combination of values."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from shop.catalog_cache import catalog_cache_invalidate
from shop.models import SKU, Product, SpecDimension, SpecValue
from shop.services.errors import InvalidSpecs
from shop.services.products import _product_refresh_price, _take_off_sale_if_unsellable


@dataclass(frozen=True)
class SpecInput:
    """One spec dimension as the merchant typed it: a name and its values, in order."""

    name: str
    values: tuple[str, ...]


MAX_SPEC_DIMENSIONS = 3
MAX_SKUS_PER_PRODUCT = 400


def split_spec_values(text: str) -> tuple[str, ...]:
    """ "红色, 蓝色，白色 / 黑色" -> ("红色", "蓝色", "白色", "黑色"): commas (either width), slashes,
    semicolons or new lines separate values; repeats are dropped, order kept."""
    separators = ",，、;；/\n"
    for separator in separators[1:]:
        text = text.replace(separator, ",")
    seen: dict[str, None] = {}
    for value in text.split(","):
        value = value.strip()
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


def _clean_specs(specs: Sequence[SpecInput]) -> list[SpecInput]:
    cleaned = []
    names = set()
    for spec in specs:
        name = spec.name.strip()
        values = tuple(dict.fromkeys(v.strip() for v in spec.values if v.strip()))
        if not name and not values:
            continue
        if not name or not values:
            raise InvalidSpecs(field="specs")
        if name in names:
            raise InvalidSpecs(
                _("Spec dimension “%(name)s” is listed twice.") % {"name": name}, field="specs"
            )
        if len(name) > 20 or any(len(v) > 30 for v in values):
            raise InvalidSpecs(_("Spec names are at most 20 characters, values 30."), field="specs")
        names.add(name)
        cleaned.append(SpecInput(name=name, values=values))
    if len(cleaned) > MAX_SPEC_DIMENSIONS:
        raise InvalidSpecs(_("At most %(n)d spec dimensions.") % {"n": MAX_SPEC_DIMENSIONS}, field="specs")
    combinations = 1
    for spec in cleaned:
        combinations *= len(spec.values)
    if combinations > MAX_SKUS_PER_PRODUCT:
        raise InvalidSpecs(
            _("These specs make %(n)d combinations; the limit is %(limit)d.")
            % {"n": combinations, "limit": MAX_SKUS_PER_PRODUCT},
            field="specs",
        )
    return cleaned


def product_specs_set(
    *, product: Product, specs: Sequence[SpecInput], price_new_skus: bool = True
) -> list[SKU]:
    """Make the product's spec dimensions and values exactly `specs`, then regenerate the SKU grid.

    The grid has one SKU per combination of values (颜色 × 尺码). Existing SKUs whose combination
    still exists keep their price, stock and code; new combinations start at the price of the
    cheapest existing SKU with stock 0 (at ¥0, not for sale until priced, with `price_new_skus`
    False: for staff who may not change prices); SKUs of combinations that no longer exist are deleted (order
    lines keep their own snapshot). With no dimensions the product has one default SKU. Holds the
    product row lock. Calling it again with the same specs changes nothing. Returns the grid in order.
    """
    cleaned = _clean_specs(specs)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        dimensions = {d.name: d for d in product.spec_dimensions.prefetch_related("values")}
        wanted_names = [spec.name for spec in cleaned]
        for name, dimension in list(dimensions.items()):
            if name not in wanted_names:
                dimension.delete()
                del dimensions[name]
        ordered_values: list[list[SpecValue]] = []
        for position, spec in enumerate(cleaned):
            dimension = dimensions.get(spec.name)
            if dimension is None:
                dimension = SpecDimension.objects.create(product=product, name=spec.name, position=position)
                existing_values = {}
            else:
                if dimension.position != position:
                    dimension.position = position
                    dimension.save(update_fields=["position"])
                existing_values = {v.value: v for v in dimension.values.all()}
            for value, stale in existing_values.items():
                if value not in spec.values:
                    stale.delete()
            row = []
            for value_position, value in enumerate(spec.values):
                spec_value = existing_values.get(value)
                if spec_value is None:
                    spec_value = SpecValue.objects.create(
                        dimension=dimension, value=value, position=value_position
                    )
                elif spec_value.position != value_position:
                    spec_value.position = value_position
                    spec_value.save(update_fields=["position"])
                row.append(spec_value)
            ordered_values.append(row)
        grid = _sku_grid_sync(product=product, ordered_values=ordered_values, price_new_skus=price_new_skus)
        _product_refresh_price(product.pk)
        _take_off_sale_if_unsellable(product.pk)
        catalog_cache_invalidate(product_ids=[product.pk])
    return grid


def _sku_grid_sync(
    *, product: Product, ordered_values: list[list[SpecValue]], price_new_skus: bool = True
) -> list[SKU]:
    skus = list(product.skus.prefetch_related("spec_values").order_by("pk"))
    combinations = list(itertools.product(*ordered_values)) if ordered_values else [()]
    wanted = {frozenset(v.pk for v in combo) for combo in combinations}
    by_combination: dict[frozenset, SKU] = {}
    for sku in skus:
        key = frozenset(v.pk for v in sku.spec_values.all())
        # A SKU whose value (or whole dimension) was deleted above no longer matches a combination,
        # or now collides with another SKU's: the older SKU keeps the combination, the rest go.
        if key in wanted and key not in by_combination:
            by_combination[key] = sku
        else:
            sku.delete()
    skus = list(by_combination.values())
    priced = [sku.price_fen for sku in skus if sku.price_fen > 0]
    starting_price = min(priced) if priced and price_new_skus else 0
    grid = []
    for combo in combinations:
        key = frozenset(v.pk for v in combo)
        label = " / ".join(v.value for v in combo)
        sku = by_combination.get(key)
        if sku is None:
            sku = SKU.objects.create(product=product, spec_label=label, price_fen=starting_price, stock=0)
            if combo:
                sku.spec_values.set(combo)
        elif sku.spec_label != label:
            sku.spec_label = label
            sku.save(update_fields=["spec_label"])
        grid.append(sku)
    return grid
