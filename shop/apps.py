from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = _("小店")

    def ready(self):
        from shop import receivers  # noqa: F401
        from shop.imagekit_signals import imagekit_listens_to_its_models_only

        imagekit_listens_to_its_models_only()
