from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GiftingConfig(AppConfig):
    name = "gifting"
    verbose_name = _("Gifts")

    def ready(self):
        from gifting import receivers  # noqa: F401
