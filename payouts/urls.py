from django.urls import path

from payouts import views

app_name = "payouts"
urlpatterns = [
    path("promoter/withdrawals/", views.withdrawals, name="withdrawals"),
    path("promoter/agency/withdrawals/", views.agency_withdrawals, name="agency-withdrawals"),
    path("payments/notify/wechatpay/transfer/", views.transfer_notify, name="transfer-notify"),
]
