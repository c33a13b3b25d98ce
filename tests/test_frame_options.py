"""The admin theme frames admin pages (same origin); nothing else may be framed, and Django's
clickjacking middleware stays installed although the theme tries to remove it."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_only_admin_pages_may_be_framed_and_only_by_this_site(client, operator):
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in settings.MIDDLEWARE
    assert client.get("/accounts/login/")["X-Frame-Options"] == "DENY"
    client.force_login(operator)
    assert client.get("/admin/today/")["X-Frame-Options"] == "SAMEORIGIN"
