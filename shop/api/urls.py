"""/api/v1/ for the shop. Each area keeps its own list; this file only joins them."""

from shop.api.catalog_urls import urlpatterns as catalog_urlpatterns
from shop.api.order_urls import urlpatterns as order_urlpatterns
from shop.api.staff_urls import urlpatterns as staff_urlpatterns

app_name = "shop-api"
urlpatterns = [*catalog_urlpatterns, *order_urlpatterns, *staff_urlpatterns]
