"""Storefront pages: home, shop, category, product, search, likes."""

import os

from django.urls import path

from shop.views import storefront

urlpatterns: list = [
    path("", storefront.home, name="home"),
    path("search/", storefront.search, name="search"),
    path("shops/<slug:slug>/", storefront.shop_detail, name="shop-detail"),
    path("categories/<slug:slug>/", storefront.category_detail, name="category"),
    path("products/<int:pk>/", storefront.product_detail, name="product-detail"),
    path("products/<int:pk>/like/", storefront.product_like, name="product-like"),
]

if os.environ.get("BENCHMARK_VIEWS") == "1":
    # The yardstick of `make bench`: the cheapest possible Django view, on the same server and
    # middleware as the pages measured against it. Never mounted unless the bench asks for it.
    from shop.views.storefront_bench import bare_view

    urlpatterns.append(path("bench/bare/", bare_view, name="bench-bare"))
