"""Order API routes (joined into /api/v1/ by shop/api/urls.py)."""

from django.urls import path

from shop.api import order_views as views

urlpatterns: list = [
    path("cart/", views.CartApi.as_view(), name="cart"),
    path("cart/items/", views.CartItemsApi.as_view(), name="cart-items"),
    path("cart/items/<int:sku_id>/", views.CartItemApi.as_view(), name="cart-item"),
    path("checkout/", views.CheckoutApi.as_view(), name="checkout"),
    path("checkout/buy-now/", views.BuyNowApi.as_view(), name="buy-now"),
    path("orders/", views.OrderListApi.as_view(), name="order-list"),
    path("orders/<str:number>/", views.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel/", views.OrderCancelApi.as_view(), name="order-cancel"),
    path(
        "orders/<str:number>/confirm-receipt/", views.OrderConfirmReceiptApi.as_view(), name="order-receive"
    ),
    path("orders/<str:number>/pay/", views.OrderPayApi.as_view(), name="order-pay"),
    path("after-sales/", views.AfterSalesListCreateApi.as_view(), name="after-sales"),
    path(
        "after-sales/<int:request_id>/withdraw/",
        views.AfterSalesWithdrawApi.as_view(),
        name="after-sales-withdraw",
    ),
    path(
        "after-sales/<int:request_id>/return-shipment/",
        views.AfterSalesReturnShipmentApi.as_view(),
        name="after-sales-return-shipment",
    ),
    path("merchant/orders/", views.MerchantOrderListApi.as_view(), name="merchant-order-list"),
    path("merchant/orders/ship/", views.MerchantBulkShipApi.as_view(), name="merchant-order-bulk-ship"),
    path(
        "merchant/orders/<str:number>/", views.MerchantOrderDetailApi.as_view(), name="merchant-order-detail"
    ),
    path(
        "merchant/orders/<str:number>/ship/", views.MerchantOrderShipApi.as_view(), name="merchant-order-ship"
    ),
    path(
        "merchant/orders/<str:number>/refunds/",
        views.MerchantOrderRefundApi.as_view(),
        name="merchant-order-refund",
    ),
    path("merchant/after-sales/", views.MerchantAfterSalesListApi.as_view(), name="merchant-after-sales"),
    path(
        "merchant/after-sales/<int:request_id>/approve/",
        views.MerchantAfterSalesApproveApi.as_view(),
        name="merchant-after-sales-approve",
    ),
    path(
        "merchant/after-sales/<int:request_id>/return-received/",
        views.MerchantAfterSalesReturnReceivedApi.as_view(),
        name="merchant-after-sales-return-received",
    ),
    path(
        "merchant/after-sales/<int:request_id>/reject/",
        views.MerchantAfterSalesRejectApi.as_view(),
        name="merchant-after-sales-reject",
    ),
]
