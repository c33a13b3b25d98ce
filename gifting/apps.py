from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GiftingConfig(AppConfig):
    name = "gifting"
    verbose_name = _("Gifts")

    def ready(self):
        from gifting import receivers  # noqa: F401
        from gifting.views import _claim_action_part, _claim_left_part
        from shop.catalog_cache import PERSONAL_PARTS

        # The claim page's personal parts, filled by shop.catalog_cache.personalize like the shop's.
        PERSONAL_PARTS.setdefault("gift_left", _claim_left_part)
        PERSONAL_PARTS.setdefault("gift_claim", _claim_action_part)
