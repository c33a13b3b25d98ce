from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Work that must follow a commit, recorded with it and relayed to Celery (see services.py)."""

    name = "outbox"
    default_auto_field = "django.db.models.BigAutoField"
