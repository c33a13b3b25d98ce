"""Everything under /api/v1/, one include per app."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("shop.api.urls")),
    path("", include("affiliates.api.urls")),
    path("", include("affiliates.api.centre_urls")),
    path("", include("payouts.api.urls")),
    path("", include("gifting.api.urls")),
]
