"""The merchant dashboard in the admin: the shop's numbers and a sales chart drawn as inline SVG."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.admin.scoping import managed_shops
from shop.selectors.dashboard import DayFigure, shop_numbers
from shop.templatetags.money import format_fen


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value_label: str
    title: str


CHART_WIDTH = 560
CHART_HEIGHT = 200
CHART_BOTTOM = 170
CHART_TOP = 20


def sales_chart(days: list[DayFigure]) -> dict:
    """Bar geometry for the SVG: one bar per day, scaled to the best day."""
    if not days:
        return {"bars": [], "width": CHART_WIDTH, "height": CHART_HEIGHT, "baseline": CHART_BOTTOM}
    best = max(day.total_fen for day in days) or 1
    slot = CHART_WIDTH / len(days)
    bars = []
    for index, day in enumerate(days):
        height = (CHART_BOTTOM - CHART_TOP) * day.total_fen / best
        bars.append(
            Bar(
                x=round(index * slot + slot * 0.15, 1),
                y=round(CHART_BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label=day.day.strftime("%m-%d"),
                value_label=format_fen(day.total_fen) if day.total_fen else "",
                title=ngettext(
                    "%(day)s: %(orders)d order, %(total)s",
                    "%(day)s: %(orders)d orders, %(total)s",
                    day.orders,
                )
                % {"day": day.day.isoformat(), "orders": day.orders, "total": format_fen(day.total_fen)},
            )
        )
    return {"bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT, "baseline": CHART_BOTTOM}


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
