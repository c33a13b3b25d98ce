"""The promoter centre (phone-sized pages): statistics with charts, the creator's 推客 team, the
agency's team and settings. Reads come from the daily rollups (affiliates/stats.py); every team
lookup is fenced to the signed-in leader's own team (others' members answer 404)."""

from __future__ import annotations

import functools

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from affiliates import selectors, services, stats, team
from affiliates.models import Promoter
from config.exceptions import DomainError, form_error_from
from shop.models import Product


class PeriodForm(forms.Form):
    range = forms.ChoiceField(
        label=gettext_lazy("Period"),
        required=False,
        choices=[
            ("today", gettext_lazy("Today")),
            ("7", gettext_lazy("7 days")),
            ("30", gettext_lazy("30 days")),
            ("custom", gettext_lazy("Custom")),
        ],
    )
    start = forms.DateField(
        label=gettext_lazy("Start date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("range") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("Choose both dates of a custom period."))
            if start > end:
                raise forms.ValidationError(_("The first day comes after the last."))
            if (end - start).days >= stats.MAX_PERIOD_DAYS:
                raise forms.ValidationError(_("Choose at most a year."))
        return data

    def period(self) -> stats.Period:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return stats.period_from(
            key=data.get("range") or "30",
            start=data["start"].isoformat() if data.get("start") else None,
            end=data["end"].isoformat() if data.get("end") else None,
        )


class ShareOverrideForm(forms.Form):
    product = forms.IntegerField(label=gettext_lazy("Product"), min_value=1, widget=forms.Select)
    share_percent = forms.DecimalField(
        label=gettext_lazy("推客 share (%)"), min_value=10, max_value=100, decimal_places=2
    )

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].widget.choices = [(p.pk, p.title) for p in products]


class AgencySettingsForm(forms.Form):
    service_fee_percent = forms.DecimalField(
        label=gettext_lazy("Service fee (%)"), min_value=0, max_value=50, decimal_places=2
    )
    share_percent = forms.DecimalField(
        label=gettext_lazy("推客 share (%)"), min_value=10, max_value=100, decimal_places=2
    )


def _period_form(request) -> tuple[PeriodForm, int]:
    form = PeriodForm(request.GET or None)
    return form, (400 if form.is_bound and not form.is_valid() else 200)


def _stats_context(request, promoter_ids: list[int]) -> tuple[dict, int]:
    """The figures are read lazily: the page caches its rendered figures per promoter, period and
    rollup version (stats.rollup_version), so while the rollups stand still a repeat view runs no
    statistics query and renders no table."""
    form, status = _period_form(request)
    period = form.period()
    result = SimpleLazyObject(lambda: stats.promoter_stats(promoter_ids=promoter_ids, period=period))

    @functools.cache
    def chart() -> dict:  # templates call it: json_script needs the plain dict
        return stats.chart_data(result) | {
            "commission_label": _("Commission (¥)"),
            "visits_label": _("Visits"),
            "orders_label": _("Orders"),
        }

    context = {
        "period_form": form,
        "period": period,
        "stats": result,
        "chart": chart,
        "stats_key": ":".join(
            ["-".join(map(str, promoter_ids)), str(period.start), str(period.end), stats.rollup_version()]
        ),
    }
    return context, status


@login_required
def centre(request):
    promoter = selectors.promoter_of(request.user)
    if promoter is None or promoter.status != Promoter.Status.APPROVED:
        raise Http404
    context, status = _stats_context(request, [promoter.pk])
    context["promoter"] = promoter
    return render(request, "affiliates/centre/stats.html", context, status=status)


def _team_page(request, leader: team.Team, *, template: str, extra: dict):
    form, status = _period_form(request)
    period = form.period()
    members = list(leader.members())
    results = stats.members_stats(promoter_ids=[m.pk for m in members], period=period)
    rows = [{"member": member, "totals": results[member.pk]} for member in members]
    context = {"team": leader, "rows": rows, "period_form": form, "period": period, **extra}
    return render(request, template, context, status=status)


def _creator_products(promoter: Promoter):
    return Product.objects.filter(pk__in=promoter.showcase_items.values("product_id")).order_by("title")


@login_required
def creator_team(request):
    promoter = selectors.promoter_of(request.user)
    leader = team.creator_team(promoter)
    if leader is None:
        raise Http404
    return _team_page(
        request,
        leader,
        template="affiliates/centre/team.html",
        extra={
            "promoter": promoter,
            "override_form": ShareOverrideForm(products=_creator_products(promoter)),
        },
    )


@login_required
@require_POST
def creator_share_override(request):
    promoter = selectors.promoter_of(request.user)
    leader = team.creator_team(promoter)
    if leader is None:
        raise Http404
    products = _creator_products(promoter)
    form = ShareOverrideForm(request.POST, products=products)
    if form.is_valid():
        product = products.filter(pk=form.cleaned_data["product"]).first()
        if product is None:
            messages.error(request, _("Choose a product from your showcase."))
        else:
            try:
                services.share_set(
                    owner=promoter, share_bp=int(form.cleaned_data["share_percent"] * 100), product=product
                )
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("推客 share saved."))
    else:
        messages.error(request, _("Choose a product and a share between 10% and 100%."))
    return redirect("promoter-centre:team")


def _member_page(request, leader, member_id, back: str):
    member = team.team_member(leader, member_id)
    if member is None:
        raise Http404
    context, status = _stats_context(request, [member.pk])
    context.update({"member": member, "back": back})
    return render(request, "affiliates/centre/member.html", context, status=status)


@login_required
def creator_member(request, member_id: int):
    return _member_page(
        request, team.creator_team(selectors.promoter_of(request.user)), member_id, "promoter-centre:team"
    )


@login_required
def agency_home(request):
    leader = team.agency_team(request.user)
    if leader is None:
        raise Http404
    agency = leader.agency
    form = AgencySettingsForm(
        request.POST or None,
        initial={
            "service_fee_percent": agency.service_fee_bp / 100,
            "share_percent": agency.default_share_bp / 100,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            team.agency_settings_set(
                agency=agency,
                service_fee_bp=int(form.cleaned_data["service_fee_percent"] * 100),
                default_share_bp=int(form.cleaned_data["share_percent"] * 100),
            )
        except DomainError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Agency settings saved."))
            return redirect("promoter-centre:agency")
    response = _team_page(
        request, leader, template="affiliates/centre/agency.html", extra={"settings_form": form}
    )
    if request.method == "POST":
        response.status_code = 400
    return response


@login_required
def agency_member(request, member_id: int):
    return _member_page(request, team.agency_team(request.user), member_id, "promoter-centre:agency")
