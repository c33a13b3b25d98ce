"""The sandbox under /sandbox/wechatpay/: WeChat Pay v3's API paths below v3/, and the cashier page.
Mounted by config/urls.py only when no real merchant number is configured."""

from django.urls import path

from shop.payments.sandbox import transfers, views

app_name = "wechatpay-sandbox"
urlpatterns = [
    path("v3/pay/transactions/h5", views.h5_prepay, name="h5-prepay"),
    path(
        "v3/pay/transactions/out-trade-no/<str:out_trade_no>",
        views.transaction_by_out_trade_no,
        name="transaction",
    ),
    path(
        "v3/pay/transactions/out-trade-no/<str:out_trade_no>/close",
        views.transaction_close,
        name="transaction-close",
    ),
    path("v3/pay/transactions/id/<str:transaction_id>", views.transaction_by_id, name="transaction-by-id"),
    path("v3/combine-transactions/h5", views.combined_h5_prepay, name="combined-h5-prepay"),
    path(
        "v3/combine-transactions/out-trade-no/<str:combine_out_trade_no>",
        views.combined_by_out_trade_no,
        name="combined",
    ),
    path(
        "v3/combine-transactions/out-trade-no/<str:combine_out_trade_no>/close",
        views.combined_close,
        name="combined-close",
    ),
    path("v3/refund/domestic/refunds", views.refund_create, name="refunds"),
    path("v3/refund/domestic/refunds/<str:out_refund_no>", views.refund_query, name="refund"),
    path("v3/fund-app/mch-transfer/transfer-bills", transfers.transfer_bills, name="transfer-bills"),
    path(
        "v3/fund-app/mch-transfer/transfer-bills/out-bill-no/<str:out_bill_no>",
        transfers.transfer_bill,
        name="transfer-bill",
    ),
    path("pay/<str:prepay_id>/", views.pay_page, name="pay"),
]
