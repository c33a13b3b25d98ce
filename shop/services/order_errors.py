"""Kept for code that imports from here: the shop's domain errors live in shop.services.errors."""

from shop.services.errors import (  # noqa: F401
    AddressRequired,
    AfterSalesAlreadyOpen,
    AfterSalesNotAllowed,
    AfterSalesNotFound,
    AmountMismatch,
    EmptyCart,
    InvalidPhoto,
    InvalidQuantity,
    InvalidTransition,
    NotPurchasable,
    OrderNotFound,
    OutOfStock,
    PaymentExpired,
    RefundExceedsPaid,
    UnknownPayment,
    Unpriced,
)
