from django.apps import AppConfig


class GiftingConfig(AppConfig):
    name = "gifting"
