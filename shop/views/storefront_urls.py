"""Storefront pages: home, shop, category, product, search, likes."""

urlpatterns: list = []
