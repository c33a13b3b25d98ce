"""The shop's domain errors, all in one module: catalog, carts, checkout, orders, payments, refunds and
after-sales. Services raise them; each becomes a 400 (or the status it names) at the edge, through
config.exceptions, and a form error on pages. Nothing was changed when one is raised.

Import them from here. (`shop.services.catalog`, the facade of the catalog services, re-exports the
catalog ones for its callers; none is defined anywhere else.)
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import status

from config.exceptions import Conflict, DomainError, NotFound

# --- catalog -------------------------------------------------------------------------------------


class ProductNotSellable(DomainError):
    code = "product_not_sellable"
    default_message = _("A product goes on sale only with at least one active SKU priced above zero.")


class InvalidStock(DomainError):
    code = "invalid_stock"
    default_message = _("Stock must be a whole number, zero or more.")


class InvalidPrice(DomainError):
    code = "invalid_price"
    default_message = _("Prices must be zero or more, and the original price not below the price.")


class ImageRejected(DomainError):
    code = "image_rejected"
    default_message = _("Upload a real image (JPEG, PNG, GIF or WebP).")


class InvalidSpecs(DomainError):
    code = "invalid_specs"
    default_message = _("Spec dimensions need a name and at least one value each.")


class ForeignObject(DomainError):
    """An id that belongs to another shop or product was sent: refused as bad input, revealing nothing."""

    code = "foreign_object"
    default_message = _("That item does not belong to this product.")


class EditConflict(Conflict):
    """The value an edit was based on moved since the editor loaded it (a sale took stock, another
    merchant changed the price): refused rather than silently overwriting the newer value."""

    code = "edit_conflict"
    default_message = _("This changed while you were editing; check it and save again.")


class SlugTaken(DomainError):
    code = "slug_taken"
    default_message = _("That slug is already used.")


# --- carts, checkout, orders, payments, after-sales --------------------------------------------


class OutOfStock(DomainError):
    code = "out_of_stock"
    default_message = _("Not enough stock left.")


class NotPurchasable(DomainError):
    code = "not_purchasable"
    default_message = _("This item is not on sale.")


class Unpriced(NotPurchasable):
    """A SKU at ¥0: it could be ordered but never paid (a payment is always above zero)."""

    code = "unpriced"
    default_message = _("This item has no price yet and cannot be ordered.")


class InvalidQuantity(DomainError):
    code = "invalid_quantity"
    default_message = _("Choose a quantity between 1 and 99.")


class EmptyCart(DomainError):
    code = "empty_cart"
    default_message = _("There is nothing to check out.")


class AddressRequired(DomainError):
    code = "address_required"
    default_message = _("Choose a shipping address.")


class InvalidTransition(DomainError):
    """The order is not in a state that allows this step (e.g. shipping an unpaid order)."""

    code = "invalid_transition"
    default_message = _("This order cannot do that in its current state.")


class OrderNotFound(NotFound):
    default_message = _("Order not found.")


class PaymentExpired(DomainError):
    code = "payment_expired"
    default_message = _("The time to pay for this order has passed.")


class AmountMismatch(DomainError):
    code = "amount_mismatch"
    default_message = _("The paid amount does not match the payment.")


class UnknownPayment(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "unknown_payment"
    default_message = _("No such payment.")


class RefundExceedsPaid(DomainError):
    code = "refund_exceeds_paid"
    default_message = _("A refund cannot be more than what was paid and not yet refunded.")


class AfterSalesNotAllowed(DomainError):
    code = "after_sales_not_allowed"
    default_message = _("After-sales cannot be requested for this order now.")


class AfterSalesAlreadyOpen(Conflict):
    code = "after_sales_open"
    default_message = _("There is already an open after-sales request for this item.")


class AfterSalesNotFound(NotFound):
    default_message = _("After-sales request not found.")


class InvalidPhoto(DomainError):
    code = "invalid_photo"
    default_message = _("Upload a real image (JPEG, PNG, GIF or WebP) within the size limit.")
