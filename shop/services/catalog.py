"""Every write to shops and the catalog, by use-case area (this module gathers them for callers):

- shop.services.shops: shops and staff;
- shop.services.products: products and their status;
- shop.services.images: product images;
- shop.services.specs: spec dimensions and the SKU grid;
- shop.services.skus: SKU prices and stock counts set by merchants;
- shop.services.likes: ♡;
- shop.services.catalog_input: sanitising and bounds; shop.services.errors: the errors;
- shop.catalog_cache: the storefront cache these changes drop.

Each function is one use case in one transaction. It checks the current state first and does nothing
the second time it is called with the same arguments. Rules enforced (and backed by database
constraints where a constraint can say them):

- a product goes on sale only with at least one active SKU priced above zero;
- stock and prices are never negative; an original price is never below the price;
- a SKU or image is only ever edited through its own product's shop;
- descriptions are sanitised HTML; images are real images under settings.MAX_IMAGE_UPLOAD_BYTES.

After a change commits, the cached storefront parts that could show it are dropped
(`catalog_cache_invalidate`), so shoppers never see an edit late.
"""

from config.exceptions import DomainError, Forbidden
from shop.catalog_cache import catalog_cache_drop, catalog_cache_invalidate
from shop.services.catalog_input import (
    ALLOWED_DESCRIPTION_ATTRIBUTES,
    ALLOWED_DESCRIPTION_TAGS,
    ALLOWED_IMAGE_FORMATS,
    MAX_IMAGE_PIXELS,
    MAX_POSITION,
    MAX_PRICE_FEN,
    MAX_STOCK,
    description_sanitize,
    image_validate,
)
from shop.services.errors import (
    EditConflict,
    ForeignObject,
    ImageRejected,
    InvalidPrice,
    InvalidSpecs,
    InvalidStock,
    ProductNotSellable,
    SlugTaken,
)
from shop.services.images import (
    product_image_add,
    product_image_delete,
    product_image_update,
    product_images_reorder,
)
from shop.services.likes import product_like, product_unlike
from shop.services.products import (
    BulkResult,
    product_create,
    product_set_status,
    product_update,
    products_set_status,
)
from shop.services.shops import (
    shop_create,
    shop_member_add,
    shop_member_remove,
    shop_require_member,
    shop_set_status,
    shop_update,
)
from shop.services.skus import UNCHANGED, products_stock_set, sku_stock_set, sku_update, skus_stock_set
from shop.services.specs import (
    MAX_SKUS_PER_PRODUCT,
    MAX_SPEC_DIMENSIONS,
    SpecInput,
    product_specs_set,
    split_spec_values,
)

__all__ = [
    "ALLOWED_DESCRIPTION_ATTRIBUTES",
    "ALLOWED_DESCRIPTION_TAGS",
    "ALLOWED_IMAGE_FORMATS",
    "MAX_IMAGE_PIXELS",
    "MAX_POSITION",
    "MAX_PRICE_FEN",
    "MAX_SKUS_PER_PRODUCT",
    "MAX_SPEC_DIMENSIONS",
    "MAX_STOCK",
    "BulkResult",
    "DomainError",
    "EditConflict",
    "Forbidden",
    "ForeignObject",
    "ImageRejected",
    "InvalidPrice",
    "InvalidSpecs",
    "InvalidStock",
    "ProductNotSellable",
    "SlugTaken",
    "SpecInput",
    "UNCHANGED",
    "catalog_cache_drop",
    "catalog_cache_invalidate",
    "description_sanitize",
    "image_validate",
    "product_create",
    "product_image_add",
    "product_image_delete",
    "product_image_update",
    "product_images_reorder",
    "product_like",
    "product_set_status",
    "product_specs_set",
    "product_unlike",
    "product_update",
    "products_set_status",
    "products_stock_set",
    "shop_create",
    "shop_member_add",
    "shop_member_remove",
    "shop_require_member",
    "shop_set_status",
    "shop_update",
    "sku_stock_set",
    "sku_update",
    "skus_stock_set",
    "split_spec_values",
]
