"""Catalog API routes (joined into /api/v1/ by shop/api/urls.py)."""

from django.urls import path

from shop.api import catalog_views as views

urlpatterns: list = [
    path("shops/", views.ShopListView.as_view(), name="shop-list"),
    path("shops/<int:pk>/", views.ShopDetailView.as_view(), name="shop-detail"),
    path("categories/", views.CategoryTreeView.as_view(), name="category-list"),
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/friends-liked/", views.FriendsLikedView.as_view(), name="product-friends-liked"),
    path("products/<int:pk>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("products/<int:pk>/like/", views.ProductLikeView.as_view(), name="product-like"),
    path("merchant/products/", views.MerchantProductListView.as_view(), name="merchant-product-list"),
    path(
        "merchant/products/<int:pk>/",
        views.MerchantProductDetailView.as_view(),
        name="merchant-product-detail",
    ),
    path(
        "merchant/products/<int:pk>/status/",
        views.MerchantProductStatusView.as_view(),
        name="merchant-product-status",
    ),
    path(
        "merchant/products/<int:pk>/specs/",
        views.MerchantProductSpecsView.as_view(),
        name="merchant-product-specs",
    ),
    path(
        "merchant/products/<int:pk>/images/",
        views.MerchantProductImagesView.as_view(),
        name="merchant-product-images",
    ),
    path("merchant/skus/<int:pk>/", views.MerchantSKUView.as_view(), name="merchant-sku"),
    path("merchant/stock/", views.MerchantStockView.as_view(), name="merchant-stock"),
]
