"""The catalog's domain errors, raised by its services and turned into 400s and form errors at the edge."""

from django.utils.translation import gettext_lazy

from config.exceptions import DomainError


class ProductNotSellable(DomainError):
    code = "product_not_sellable"
    default_message = gettext_lazy(
        "A product goes on sale only with at least one active SKU priced above zero."
    )


class InvalidStock(DomainError):
    code = "invalid_stock"
    default_message = gettext_lazy("Stock must be a whole number, zero or more.")


class InvalidPrice(DomainError):
    code = "invalid_price"
    default_message = gettext_lazy("Prices must be zero or more, and the original price not below the price.")


class ImageRejected(DomainError):
    code = "image_rejected"
    default_message = gettext_lazy("Upload a real image (JPEG, PNG, GIF or WebP).")


class InvalidSpecs(DomainError):
    code = "invalid_specs"
    default_message = gettext_lazy("Spec dimensions need a name and at least one value each.")


class ForeignObject(DomainError):
    """An id that belongs to another shop or product was sent: refused as bad input, revealing nothing."""

    code = "foreign_object"
    default_message = gettext_lazy("That item does not belong to this product.")


class SlugTaken(DomainError):
    code = "slug_taken"
    default_message = gettext_lazy("That slug is already used.")
