"""The merchant's home in the admin: what to do today (orders to ship, after-sales to answer, low
stock, today's sales), with a link to the dashboard. The theme opens it as the admin's first tab."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from shop.admin.scoping import request_is_merchant_staff, request_shop_ids
from shop.selectors.backoffice import backoffice_today

SEEN_SESSION_KEY = "backoffice_today_seen_at"


def _previous_visit(request) -> datetime | None:
    """When this merchant last opened the page on this device: rows newer than that are marked new."""
    seen = parse_datetime(request.session.get(SEEN_SESSION_KEY) or "")
    request.session[SEEN_SESSION_KEY] = timezone.now().isoformat()
    return seen


def backoffice_today_view(request):
    if not request_is_merchant_staff(request):
        raise PermissionDenied
    today = backoffice_today(shop_ids=request_shop_ids(request))
    context = {
        **admin.site.each_context(request),
        "title": _("To do today"),
        "today": today,
        "seen_at": _previous_visit(request),
        "now": timezone.localtime(),
    }
    return TemplateResponse(request, "admin/shop/today.html", context)
