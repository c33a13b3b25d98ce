"""The merchant admin. Catalog and order screens live in their own modules."""

from shop.admin import catalog, orders  # noqa: F401
