"""`manage.py seed_demo`: demo data from every app, in INSTALLED_APPS order, idempotently.

Each app that wants demo data has a `demo` module with `seed(*, stdout) -> list[(role, phone, password)]`.
Running the command again changes nothing; the logins are printed as a table at the end.
"""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule


def demo_modules():
    """The `demo` modules of the installed apps, in INSTALLED_APPS order."""
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, "demo"):
            yield app_config.label, import_module(f"{app_config.name}.demo")


def logins_table(logins: list[tuple[str, str, str]]) -> str:
    header = ("role", "phone", "password")
    rows = [header, *logins]

    # Chinese characters take two columns in a terminal.
    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)

    widths = [max(width(row[i]) for row in rows) for i in range(3)]

    def line(row) -> str:
        return "  ".join(cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(row)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in logins)])


class Command(BaseCommand):
    help = "Load demo people, shops and products (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        logins: list[tuple[str, str, str]] = []
        with transaction.atomic():
            for label, module in demo_modules():
                seeded = module.seed(stdout=self.stdout) or []
                logins.extend(login for login in seeded if login not in logins)
                self.stdout.write(self.style.SUCCESS(f"seeded {label}"))
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo logins (http://127.0.0.1:8000/accounts/login/):"))
        self.stdout.write(logins_table(logins))
