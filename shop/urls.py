"""Browser pages of the shop. Each area keeps its own list; this file only joins them."""

from shop.views.order_urls import urlpatterns as order_urlpatterns
from shop.views.storefront_urls import urlpatterns as storefront_urlpatterns

app_name = "shop"
# Storefront pages first: they are the most visited (Django tries the patterns in order).
urlpatterns = [*storefront_urlpatterns, *order_urlpatterns]
