from shop.models.aftersales import AfterSalesPhoto, AfterSalesRequest
from shop.models.cart import Cart, CartLine
from shop.models.catalog import (
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
from shop.models.orders import Order, OrderEvent, OrderLine
from shop.models.payments import Payment, Refund, RefundLine

__all__ = [
    "SKU",
    "AfterSalesPhoto",
    "AfterSalesRequest",
    "Cart",
    "CartLine",
    "Category",
    "Order",
    "OrderEvent",
    "OrderLine",
    "Payment",
    "Product",
    "ProductImage",
    "ProductLike",
    "Refund",
    "RefundLine",
    "Shop",
    "ShopMembership",
    "SpecDimension",
    "SpecValue",
]
