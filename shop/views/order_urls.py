"""Cart, checkout, payment, order and after-sales pages, and the payment notification endpoints."""

from django.urls import path

from shop.views import aftersales, cart, checkout, orders, payments

urlpatterns: list = [
    path("cart/", cart.cart_page, name="cart"),
    path("cart/add/", cart.cart_add_view, name="cart-add"),
    path("cart/update/", cart.cart_update_view, name="cart-update"),
    path("cart/remove/", cart.cart_remove_view, name="cart-remove"),
    path("checkout/", checkout.checkout, name="checkout"),
    path("checkout/buy-now/", checkout.buy_now, name="buy-now"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/<str:number>/", orders.order_detail, name="order-detail"),
    path("orders/<str:number>/pay/", payments.order_pay, name="order-pay"),
    path("orders/<str:number>/cancel/", orders.order_cancel_view, name="order-cancel"),
    path("orders/<str:number>/receive/", orders.order_receive_view, name="order-receive"),
    path("orders/<str:number>/after-sales/", aftersales.after_sales_new, name="after-sales-new"),
    path("after-sales/", aftersales.after_sales_list, name="after-sales"),
    path(
        "after-sales/<int:request_id>/return/",
        aftersales.after_sales_return_view,
        name="after-sales-return",
    ),
    path(
        "after-sales/<int:request_id>/withdraw/",
        aftersales.after_sales_withdraw_view,
        name="after-sales-withdraw",
    ),
    path("after-sales/photos/<int:photo_id>/", aftersales.after_sales_photo, name="after-sales-photo"),
    path("payments/notify/wechatpay/", payments.payment_notify, name="payment-notify"),
    path("payments/notify/wechatpay/refund/", payments.refund_notify, name="refund-notify"),
]
