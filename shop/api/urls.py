app_name = "shop-api"
urlpatterns: list = []
