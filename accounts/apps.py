from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")


class SignInProtectionConfig(AxesAppConfig):
    """django-axes under a name operators understand in the admin (see accounts/signin.py)."""

    verbose_name = _("Sign-in protection")
