from django.urls import path

from payouts.api import views as v

urlpatterns = [
    path("promoter/withdrawals/", v.WithdrawalsApi.as_view(), name="promoter-withdrawals"),
    path("promoter/withdrawals/<int:pk>/", v.WithdrawalApi.as_view(), name="promoter-withdrawal"),
    path("promoter/wallet/", v.WalletApi.as_view(), name="promoter-wallet"),
    path("agency/withdrawals/", v.AgencyWithdrawalsApi.as_view(), name="agency-withdrawals"),
    path("agency/wallet/", v.AgencyWalletApi.as_view(), name="agency-wallet"),
    path("operator/withdrawals/review/", v.ReviewApi.as_view(), name="operator-withdrawals-review"),
]
