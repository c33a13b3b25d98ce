from django.urls import path

from affiliates.api import views as v

urlpatterns = [
    path("promoter/me/", v.MeApi.as_view(), name="promoter-me"),
    path("promoter/join/", v.JoinApi.as_view(), name="promoter-join"),
    path("promoter/share/", v.ShareApi.as_view(), name="promoter-share"),
    path("promoter/pool/", v.PoolApi.as_view(), name="promoter-pool"),
    path("promoter/showcase/", v.ShowcaseApi.as_view(), name="promoter-showcase"),
    path("promoter/showcase/<int:product_id>/", v.ShowcaseItemApi.as_view(), name="promoter-showcase-item"),
    path("promoter/links/", v.LinksApi.as_view(), name="promoter-links"),
    path("promoter/links/<int:pk>/", v.LinkApi.as_view(), name="promoter-link"),
    path("promoter/clicks/", v.ClicksApi.as_view(), name="promoter-clicks"),
    path("promoter/ledger/", v.LedgerApi.as_view(), name="promoter-ledger"),
    path("promoter/balance/", v.BalanceApi.as_view(), name="promoter-balance"),
    path("promoter/sharers/<int:pk>/", v.SharerRemoveApi.as_view(), name="promoter-sharer"),
    path("agency/", v.AgencyApi.as_view(), name="agency"),
    path("agency/ledger/", v.AgencyLedgerApi.as_view(), name="agency-ledger"),
    path("agency/balance/", v.AgencyBalanceApi.as_view(), name="agency-balance"),
    path("agency/sharers/<int:pk>/", v.AgencySharerRemoveApi.as_view(), name="agency-sharer"),
    path("showcases/<str:code>/", v.ShowcasePublicApi.as_view(), name="showcase"),
    path("merchant/products/<int:pk>/commission-plan/", v.PlanApi.as_view(), name="merchant-plan"),
    path("merchant/affiliate-sales/", v.SalesApi.as_view(), name="merchant-affiliate-sales"),
    path("operator/promoters/<int:pk>/review/", v.ReviewApi.as_view(), name="operator-promoter-review"),
    path("operator/promoters/<int:pk>/freeze/", v.FreezeApi.as_view(), name="operator-promoter-freeze"),
    path("operator/promoters/<int:pk>/unfreeze/", v.UnfreezeApi.as_view(), name="operator-promoter-unfreeze"),
]
