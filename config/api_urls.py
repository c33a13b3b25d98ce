"""Everything under /api/v1/, one include per app."""

from django.urls import include, path

urlpatterns = [
    # The shop's first: the catalog is what is asked for most (Django tries the patterns in order).
    path("", include("shop.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("affiliates.api.urls")),
    path("", include("affiliates.api.centre_urls")),
    path("", include("payouts.api.urls")),
    path("", include("gifting.api.urls")),
]
