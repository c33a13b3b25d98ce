"""The merchant dashboard in the admin: the shop's numbers and a sales chart drawn by Chart.js,
which is served with the app from static/vendor/chartjs (no CDN)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from shop.admin.scoping import managed_shops
from shop.selectors.dashboard import DayFigure, shop_numbers
from shop.templatetags.money import format_fen


def sales_chart(days: list[DayFigure]) -> dict:
    """The sales chart's data for Chart.js (static/vendor/chartjs): one point per day, oldest first.
    Amounts go out in fen and in yuan text, so the page formats money the same way as everywhere."""
    return {
        "labels": [day.day.strftime("%m-%d") for day in days],
        "days": [day.day.isoformat() for day in days],
        "sales_fen": [day.total_fen for day in days],
        "sales_text": [format_fen(day.total_fen) for day in days],
        "orders": [day.orders for day in days],
        "sales_label": _("Sales (¥)"),
        "orders_label": _("Paid orders"),
    }


def merchant_dashboard(request, *, model_admin):
    shops = list(managed_shops(request.user).order_by("id"))
    if not shops:
        raise PermissionDenied
    wanted = request.GET.get("shop")
    shop = next((s for s in shops if str(s.pk) == wanted), shops[0])
    numbers = shop_numbers(shop=shop)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Dashboard: %(shop)s") % {"shop": shop.name},
        "opts": model_admin.model._meta,
        "shop": shop,
        "shops": shops,
        "numbers": numbers,
        "chart": sales_chart(numbers.sales_by_day),
    }
    return TemplateResponse(request, "admin/shop/dashboard.html", context)
