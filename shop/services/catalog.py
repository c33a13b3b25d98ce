"""Every write to shops and the catalog: shops and staff, products, images, specs, SKUs, stock, likes.

Each function is one use case in one transaction. It checks the current state first and does nothing
the second time it is called with the same arguments. Rules enforced here (and backed by database
constraints where a constraint can say them):

- a product goes on sale only with at least one active SKU, each priced above zero (a ¥0 SKU
  could be ordered but never paid), and an active SKU of an on-sale product is never set to ¥0;
- an edit writes only the fields it changes, and refuses one based on a value that moved since the
  editor loaded it (EditConflict), never silently overwriting stock a sale took;
- stock and prices are never negative; an original price is never below the price;
- a SKU or image is only ever edited through its own product's shop;
- descriptions are sanitised HTML; images are real images under settings.MAX_IMAGE_UPLOAD_BYTES.

After a change commits, the storefront caches that could show it are dropped
(`catalog_cache_invalidate`), so shoppers never see an edit late.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import nh3
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Min
from django.dispatch import receiver
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from config.cache import redis_client
from config.exceptions import DomainError, Forbidden
from outbox.services import outbox_enqueue, outbox_handler
from shop import signals
from shop.models import (
    SKU,
    Category,
    Product,
    ProductImage,
    ProductLike,
    Shop,
    ShopMembership,
    SpecDimension,
    SpecValue,
)
from shop.selectors.catalog import CATALOG_GENERATION_KEY, product_detail_cache_keys
from shop.services.errors import (  # noqa: F401 (names kept for callers)
    EditConflict,
    ForeignObject,
    ImageRejected,
    InvalidPrice,
    InvalidSpecs,
    InvalidStock,
    ProductNotSellable,
    SlugTaken,
)

cache_logger = logging.getLogger("weshop.cache")

# --- Cache ------------------------------------------------------------------------------------


def catalog_cache_invalidate(*, product_ids: Iterable[int] = ()) -> None:
    """Drop cached storefront pages that may show these products, once the transaction commits.

    Dropped right after the commit, so the merchant and shoppers see the edit at once; and recorded in
    the outbox in the same transaction, so a worker drops them again (`catalog_cache_drop`, retried
    until Redis answers). A Redis outage at commit time neither fails the change nor keeps the stale
    pages: the in-process drop is skipped (logged on "weshop.cache") and the worker's is retried.
    """
    ids = sorted(set(product_ids))
    outbox_enqueue(handler=catalog_cache_drop, payload={"product_ids": ids})
    transaction.on_commit(lambda: _catalog_cache_drop_now(ids))


def _catalog_cache_drop_now(product_ids: list[int]) -> None:
    try:
        catalog_cache_drop(product_ids=product_ids)
    except Exception as exc:  # the outbox message retries it; the request has committed
        cache_logger.warning("catalog cache drop failed, left to the outbox: %r", exc)


@outbox_handler
def catalog_cache_drop(*, product_ids: Iterable[int] = ()) -> None:
    """Drop the product pages of these products and retire every list page (outbox handler; the
    order receivers call it directly). Raises when Redis cannot be reached, so it is retried.

    Product pages are keyed by product and language, so their keys are deleted; list pages (home,
    category, shop, search) carry the catalog generation in their key, so bumping it retires them all.
    """
    keys = [key for product_id in sorted(set(product_ids)) for key in product_detail_cache_keys(product_id)]
    client = redis_client()
    if client is not None:
        # One round trip: DEL the product pages and INCR the generation together. INCR of a
        # missing key makes it 1, as below.
        pipeline = client.pipeline(transaction=False)
        if keys:
            pipeline.delete(*(cache.make_key(key) for key in keys))
        pipeline.incr(cache.make_key(CATALOG_GENERATION_KEY))
        pipeline.execute()
        return
    if keys:
        cache.delete_many(keys)
    try:
        cache.incr(CATALOG_GENERATION_KEY)
    except ValueError:  # not set yet (or evicted): any new value retires the old list keys
        cache.set(CATALOG_GENERATION_KEY, 1, timeout=None)


# --- Input cleaning --------------------------------------------------------------------------

ALLOWED_DESCRIPTION_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "h3", "h4", "blockquote",
    "a", "img", "span", "table", "thead", "tbody", "tr", "th", "td", "hr",
}  # fmt: skip
ALLOWED_DESCRIPTION_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
ALLOWED_IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
MAX_IMAGE_PIXELS = 40_000_000


def description_sanitize(html: str) -> str:
    """Keep formatting, links and images; drop scripts, styles, event handlers and foreign schemes."""
    return nh3.clean(
        html or "",
        tags=ALLOWED_DESCRIPTION_TAGS,
        attributes=ALLOWED_DESCRIPTION_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def image_validate(*, upload, field: str = "image") -> None:
    """Refuse anything that is not a real, decodable image of an allowed format under the size limit."""
    limit = settings.MAX_IMAGE_UPLOAD_BYTES
    size = getattr(upload, "size", None)
    if size is None or size > limit:
        raise ImageRejected(
            _("The image is larger than %(mb).1f MB.") % {"mb": limit / 1024 / 1024}, field=field
        )
    if size == 0:
        raise ImageRejected(_("The file is empty."), field=field)
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRejected(_("This file is not an image we can read."), field=field) from None
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_IMAGE_FORMATS:
        raise ImageRejected(_("Upload a JPEG, PNG, GIF or WebP image."), field=field)
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageRejected(_("The image has too many pixels."), field=field)


# Upper bounds keep numbers inside their columns (stock and positions are 32-bit) and far from any
# real shop's figures, so an absurd input is a clear 400 rather than a database overflow.
MAX_PRICE_FEN = 10**10  # ¥100,000,000
MAX_STOCK = 99_999_999
MAX_POSITION = 10_000


def _check_prices(*, price_fen: int, original_price_fen: int | None) -> None:
    if price_fen is None or price_fen < 0:
        raise InvalidPrice(_("The price cannot be negative."), field="price_fen")
    for field, value in (("price_fen", price_fen), ("original_price_fen", original_price_fen)):
        if value is not None and value > MAX_PRICE_FEN:
            raise InvalidPrice(_("The price cannot be above ¥100,000,000."), field=field)
    if original_price_fen is not None and original_price_fen < price_fen:
        raise InvalidPrice(_("The original price cannot be below the price."), field="original_price_fen")


def _check_stock(stock) -> None:
    if not isinstance(stock, int) or isinstance(stock, bool) or stock < 0:
        raise InvalidStock(_("Stock cannot be negative."), field="stock")
    if stock > MAX_STOCK:
        raise InvalidStock(_("Stock cannot be above %(max)s.") % {"max": MAX_STOCK}, field="stock")


def _check_position(position) -> None:
    if position is not None and not 0 <= position <= MAX_POSITION:
        message = _("Position must be between 0 and %(max)s.") % {"max": MAX_POSITION}
        raise DomainError(message, field="position")


# --- Shops and staff -------------------------------------------------------------------------


def shop_create(*, name: str, slug: str, owner, description: str = "", logo=None) -> Shop:
    """Open a shop (operators only, through the admin). The owner becomes a member with role owner.

    Repeating the call with the same slug and owner returns the existing shop unchanged; a slug used
    by another owner's shop is refused.
    """
    with transaction.atomic():
        existing = Shop.objects.filter(slug=slug).first()
        if existing is not None:
            if existing.owner_id != owner.pk:
                raise SlugTaken(field="slug")
            return existing
        if logo:
            image_validate(upload=logo, field="logo")
        shop = Shop.objects.create(
            name=name, slug=slug, owner=owner, description=description, logo=logo or ""
        )
        ShopMembership.objects.create(shop=shop, user=owner, role=ShopMembership.Role.OWNER)
        _ensure_staff_flag(owner)
    return shop


def shop_update(*, shop: Shop, name: str, description: str, logo=None, clear_logo: bool = False) -> Shop:
    """Change a shop's public face. Unchanged values write nothing."""
    with transaction.atomic():
        shop = Shop.objects.select_for_update().get(pk=shop.pk)
        changed = []
        if shop.name != name:
            shop.name = name
            changed.append("name")
        if shop.description != description:
            shop.description = description
            changed.append("description")
        if logo:
            image_validate(upload=logo, field="logo")
            shop.logo = logo
            changed.append("logo")
        elif clear_logo and shop.logo:
            shop.logo = ""
            changed.append("logo")
        if changed:
            shop.save(update_fields=changed)
            catalog_cache_invalidate(product_ids=shop.products.values_list("id", flat=True))
    return shop


def shop_set_status(*, shop: Shop, status: str) -> Shop:
    """Operators suspend or re-open a shop. A suspended shop's products vanish from the storefront."""
    if status not in Shop.Status.values:
        raise DomainError(_("Unknown shop status."), field="status")
    with transaction.atomic():
        shop = Shop.objects.select_for_update().get(pk=shop.pk)
        if shop.status != status:
            shop.status = status
            shop.save(update_fields=["status"])
            catalog_cache_invalidate(product_ids=shop.products.values_list("id", flat=True))
    return shop


def _ensure_staff_flag(user) -> None:
    # Merchant staff work in the admin, which needs is_staff; membership is what scopes them.
    if not user.is_staff:
        type(user).objects.filter(pk=user.pk).update(is_staff=True)
        user.is_staff = True


def shop_member_add(*, shop: Shop, user, role: str = ShopMembership.Role.STAFF) -> ShopMembership:
    """Make a user staff of a shop (idempotent: an existing membership keeps its role)."""
    with transaction.atomic():
        membership, _created = ShopMembership.objects.get_or_create(
            shop=shop, user=user, defaults={"role": role}
        )
        _ensure_staff_flag(user)
    return membership


def shop_member_remove(*, shop: Shop, user) -> None:
    """Remove a staff member. The owner's membership cannot be removed."""
    with transaction.atomic():
        if shop.owner_id == user.pk:
            raise DomainError(_("The owner cannot be removed from their shop."), field="user")
        ShopMembership.objects.filter(shop=shop, user=user).delete()


def shop_require_member(*, shop: Shop, user) -> None:
    """Raise Forbidden unless the user may manage the shop (member or operator)."""
    if user.is_superuser:
        return
    if not ShopMembership.objects.filter(shop=shop, user=user).exists():
        raise Forbidden()


# --- Products --------------------------------------------------------------------------------


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


# --- Images ----------------------------------------------------------------------------------


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


# --- Specs and the SKU grid ------------------------------------------------------------------


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


# --- Likes -----------------------------------------------------------------------------------


def product_like(*, user, product: Product) -> bool:
    """The user ♡s the product. Returns True if this call added the like (False if it was there).

    Only products a shopper can see may be liked. Keeps Product.like_count by a relative update.
    """
    if not Product.objects.on_sale().filter(pk=product.pk).exists():
        raise DomainError(_("This product is not on sale."), field="product")
    try:
        with transaction.atomic():
            _like, created = ProductLike.objects.get_or_create(user=user, product=product)
            if created:
                Product.objects.filter(pk=product.pk).update(like_count=F("like_count") + 1)
                catalog_cache_invalidate(product_ids=[product.pk])
    except IntegrityError:  # the same like raced in from another request
        return False
    return created


def product_unlike(*, user, product: Product) -> bool:
    """Remove the user's ♡. Returns True if a like was removed."""
    with transaction.atomic():
        deleted, _rows = ProductLike.objects.filter(user=user, product=product).delete()
        if deleted:
            Product.objects.filter(pk=product.pk, like_count__gt=0).update(like_count=F("like_count") - 1)
            catalog_cache_invalidate(product_ids=[product.pk])
    return bool(deleted)


# --- Orders move stock and sales: the pages showing them follow ------------------------------


@receiver(signals.order_placed, dispatch_uid="catalog-cache-order-placed")
@receiver(signals.order_paid, dispatch_uid="catalog-cache-order-paid")
@receiver(signals.order_cancelled, dispatch_uid="catalog-cache-order-cancelled")
@receiver(signals.order_refunded, dispatch_uid="catalog-cache-order-refunded")
def catalog_cache_follows_orders(sender, order, **kwargs):
    """Orders take and return stock and add sales: drop the cached pages of the products involved.
    Runs in a worker (shop.services.announce), so it drops them at once; a Redis error raises and
    the announcement is retried. Code that changes stock outside an order event calls
    catalog_cache_invalidate itself."""
    product_ids = [pid for pid in order.lines.values_list("product_id", flat=True) if pid]
    catalog_cache_drop(product_ids=product_ids)
