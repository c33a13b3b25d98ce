from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "小店 Shop"

    def ready(self):
        from shop import receivers  # noqa: F401
