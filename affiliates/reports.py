"""Affiliate reports in the admin (/admin/affiliate-report/): for a period (orders paid in it, shop
time), sales through promoters grouped by promoter, product or scene, with the commission owed
(pending), settled and clawed back; the top promoters; a CSV export. Merchants see their own shops;
operators see every shop and the platform's totals, withdrawals included.

Sales and line commission count each attributed line once (its creator row); owed, settled and
clawed back add up every payee's rows (creator, 推客, agency) from the ledger."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

from django import forms
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from affiliates.models import CommissionEntry, Scene
from shop.admin.scoping import is_merchant_staff, managed_shops
from shop.templatetags.money import format_fen

GROUPS = {"promoter": "link__promoter__display_name", "product": "product__title", "scene": "scene"}
TOP = 10


class ReportForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("Start date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group_by = forms.ChoiceField(
        label=gettext_lazy("Group by"),
        required=False,
        choices=[
            ("promoter", gettext_lazy("promoter")),
            ("product", gettext_lazy("product")),
            ("scene", gettext_lazy("scene")),
        ],
    )

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=29)
        if data["start"] > data["end"]:
            raise forms.ValidationError(_("The first day comes after the last."))
        data["group_by"] = data.get("group_by") or "promoter"
        return data


def _entries(*, shops, start: date, end: date):
    first = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    last = timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()))
    entries = CommissionEntry.objects.filter(order__paid_at__gte=first, order__paid_at__lt=last)
    if shops is not None:
        entries = entries.filter(shop__in=shops)
    return entries


_FIGURES = {
    "lines": Count("id", filter=Q(kind="commission", role="creator")),
    "sales_fen": Coalesce(Sum("base_fen", filter=Q(kind="commission", role="creator")), Value(0)),
    "line_commission_fen": Coalesce(
        Sum("commission_fen", filter=Q(kind="commission", role="creator")), Value(0)
    ),
    "owed_fen": Coalesce(Sum("amount_fen", filter=Q(status="pending")), Value(0)),
    "settled_fen": Coalesce(Sum("amount_fen", filter=Q(status="settled") & ~Q(kind="clawback")), Value(0)),
    "clawed_back_fen": Coalesce(-Sum("amount_fen", filter=Q(kind="clawback")), Value(0)),
}


def affiliate_report(*, shops, start: date, end: date, group_by: str) -> dict:
    """Rows per group (best sellers first), the top promoters, and totals. Three queries."""
    entries = _entries(shops=shops, start=start, end=end)
    key = GROUPS[group_by]
    labels = dict(Scene.choices)
    rows = []
    for row in entries.values(key).annotate(**_FIGURES).order_by("-sales_fen", key):
        name = row[key]
        rows.append({"name": labels.get(name, name) if group_by == "scene" else (name or "—"), **row})
    top = list(
        entries.values(GROUPS["promoter"])
        .annotate(**_FIGURES)
        .order_by("-sales_fen", GROUPS["promoter"])[:TOP]
    )
    for row in top:
        row["name"] = row[GROUPS["promoter"]] or "—"
    totals = entries.aggregate(**_FIGURES)
    return {"rows": rows, "top": top, "totals": totals}


def platform_withdrawals() -> dict | None:
    """Operators: withdrawals paid and waiting (requested, under review, being paid), if installed."""
    try:
        withdrawal = apps.get_model("payouts", "Withdrawal")
    except LookupError:
        return None
    return withdrawal.objects.aggregate(
        paid_fen=Coalesce(Sum("payout_fen", filter=Q(status="paid")), Value(0)),
        waiting=Count("id", filter=Q(status__in=["requested", "under_review"])),
        waiting_fen=Coalesce(Sum("amount_fen", filter=Q(status__in=["requested", "under_review"])), Value(0)),
        paying=Count("id", filter=Q(status="approved")),
        failed=Count("id", filter=Q(status="failed")),
    )


def _csv(report: dict, *, group_by: str, start: date, end: date) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="affiliate-sales-{group_by}-{start}-{end}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 with a byte-order mark
    writer = csv.writer(response)
    writer.writerow(
        [
            _(group_by),
            _("Order lines"),
            _("Sales (¥)"),
            _("Commission (¥)"),
            _("Owed (¥)"),
            _("Settled (¥)"),
            _("Clawed back (¥)"),
        ]
    )
    for row in report["rows"]:
        writer.writerow(
            [
                row["name"],
                row["lines"],
                *(
                    format_fen(row[name], symbol=False).replace(",", "")
                    for name in (
                        "sales_fen",
                        "line_commission_fen",
                        "owed_fen",
                        "settled_fen",
                        "clawed_back_fen",
                    )
                ),
            ]
        )
    return response


def report_view(request):
    """The admin page (wrapped in admin_view by config/urls.py)."""
    if not (request.user.is_superuser or is_merchant_staff(request.user)):
        raise PermissionDenied
    form = ReportForm(request.GET)  # every field is optional: an empty query is the last 30 days
    if form.is_valid():
        data, status = form.cleaned_data, 200
    else:
        today = timezone.localdate()
        data, status = {"start": today - timedelta(days=29), "end": today, "group_by": "promoter"}, 400
    shops = None if request.user.is_superuser else managed_shops(request.user)
    report = affiliate_report(shops=shops, start=data["start"], end=data["end"], group_by=data["group_by"])
    if request.GET.get("format") == "csv" and status == 200:
        return _csv(report, group_by=data["group_by"], start=data["start"], end=data["end"])
    from django.contrib import admin

    context = {
        **admin.site.each_context(request),
        "title": _("Affiliate report"),
        "form": form,
        "report": report,
        "period": data,
        "operator": request.user.is_superuser,
        "withdrawals": platform_withdrawals() if request.user.is_superuser else None,
        "csv_query": request.GET.urlencode(),
    }
    return TemplateResponse(request, "admin/affiliates/report.html", context, status=status)
