from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AffiliatesConfig(AppConfig):
    name = "affiliates"
    verbose_name = _("Affiliates")

    def ready(self):
        from affiliates import page_cache, receivers  # noqa: F401
        from affiliates.attribution import checkout_line_hook
        from affiliates.clicks import attribution_context
        from shop import hooks

        hooks.register_checkout_context_provider(attribution_context)
        hooks.register_checkout_line_hook(checkout_line_hook)
