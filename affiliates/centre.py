"""The promoter centre (phone-sized pages): statistics with charts, the creator's 推客 team, the
agency's team and settings. Reads come from the daily rollups (affiliates/stats.py); every team
lookup is fenced to the signed-in leader's own team (others' members answer 404).

The statistics page is built like the storefront's signed-in pages (shop/catalog_cache.py): its
shared part (figures, chart, tables, period form, the page frame) depends only on the promoter, the
rollup version, the query string, the period and the language, so it is rendered once and cached
under a key holding all of them; a new rollup is a new version and so a new key. The visitor's own
parts (top bar, messages, cart badge, the promoter menu) are markers filled per request."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from affiliates import selectors, services, stats, team
from affiliates.models import Agency, Promoter
from config.exceptions import DomainError, form_error_from
from shop import catalog_cache
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


def _stats_context(request, promoter_ids: list[int], version: str | None = None) -> tuple[dict, int]:
    """The figures are read lazily: the pages cache their rendered figures per promoters, period,
    language and rollup version (stats.rollup_version) in a template fragment, so while the rollups
    stand still a repeat view runs no statistics query and renders no table (the statistics page
    caches its whole shared part too, per session: a fragment saves the work for another session)."""
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
            [
                "-".join(map(str, promoter_ids)),
                str(period.start),
                str(period.end),
                version or stats.rollup_version(),
            ]
        ),
    }
    return context, status


@dataclass(frozen=True)
class NavAgency:
    owner_id: int
    name: str


@dataclass(frozen=True)
class NavPromoter:
    """What the promoter menu (affiliates/_nav.html) shows, as plain values: the menu is rendered
    once per distinct set of them and reused (catalog_cache.fragment)."""

    pk: int
    user_id: int
    status: str
    role: str
    agency: NavAgency | None

    @property
    def is_creator(self) -> bool:
        return self.role == Promoter.Role.CREATOR


@functools.cache
def _nav_promoter_sql() -> str:
    quote = connection.ops.quote_name
    promoter, agency = Promoter._meta, Agency._meta

    def p(name: str) -> str:
        return f"{quote(promoter.db_table)}.{quote(promoter.get_field(name).column)}"

    def a(name: str) -> str:
        return f"{quote(agency.db_table)}.{quote(agency.get_field(name).column)}"

    return (
        f"SELECT {p('id')}, {p('status')}, {p('role')}, {a('owner')}, {a('name')} "
        f"FROM {quote(promoter.db_table)} LEFT JOIN {quote(agency.db_table)} ON {a('id')} = {p('agency')} "
        f"WHERE {p('user')} = %s"
    )


def _nav_promoter(user_id: int) -> NavPromoter | None:
    """The signed-in user's promoter profile, as the statistics page needs it: one statement written
    once from the models' metadata (built by the ORM on every view, it was a third of the page's CPU)."""
    with connection.cursor() as cursor:
        cursor.execute(_nav_promoter_sql(), [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, status, role, owner_id, agency_name = row
    agency = NavAgency(owner_id, agency_name) if agency_name is not None else None
    return NavPromoter(pk=pk, user_id=user_id, status=status, role=role, agency=agency)


def stats_page_key(*, session_key: str, period: stats.Period, params, language: str) -> str:
    """The key of a statistics page's shared part, by the visitor's session: so it is known before
    the session is read, and read in the same round trip. A session belongs to one user for its
    whole life (Django gives a new key at sign-in and sign-out), and a user has one promoter profile;
    the entry still names its promoter and rollup version, and is used only when both match. The
    query string is in the key (the period form and the language switch repeat it), and so are the
    period's dates ("30 days" moves at midnight)."""
    session = hashlib.blake2b(session_key.encode(), digest_size=12).hexdigest()
    digest = catalog_cache.query_digest(params)
    return catalog_cache.layered_key(
        f"affiliates:centre-stats:{session}:{language}:{period.start}:{period.end}:{digest}"
    )


STATS_TEMPLATE = "affiliates/centre/stats.html"


def _session_user_id(request) -> int | None:
    """The user id the session names, not yet vouched for (django.contrib.auth does that)."""
    try:
        return int(request.session.get(SESSION_KEY))
    except (TypeError, ValueError):
        return None


def _layered(request, shared: tuple, promoter: NavPromoter) -> str:
    nav = catalog_cache.fragment("affiliates/_nav.html", {"promoter": promoter})
    return catalog_cache.personalize(request, shared, parts={"promoter_nav": nav})


def centre(request):
    """The promoter's statistics (signed in, approved promoters only).

    A warm view is one Redis round trip (the rollup version, the page's shared part and the session,
    in one MGET) and two statements: the promoter of the user the session names, then the user and
    the top bar's figures together (catalog_cache.personalize, which has django.contrib.auth vouch
    for the session as always). Nothing is shown before both the user and the promoter are checked;
    a shared part that is missing or stale is built only after the user is vouched for."""
    if request.GET:
        form, status = _period_form(request)
        period = form.period()
    else:  # the default view: nothing to validate
        status, period = 200, stats.period_from(key="30")
    session_key = getattr(request.session, "session_key", None)
    key = (
        stats_page_key(session_key=session_key, period=period, params=request.GET, language=get_language())
        if session_key
        else None
    )
    found = catalog_cache.session_get_many(request, [stats.VERSION_CACHE_KEY, *([key] if key else [])])
    user_id = _session_user_id(request)
    promoter = _nav_promoter(user_id) if user_id is not None else None
    version = found.get(stats.VERSION_CACHE_KEY) or stats.rollup_version()
    entry = found.get(key) if key else None
    body = None
    if promoter is not None and isinstance(entry, tuple) and entry[:2] == (promoter.pk, version):
        body = _layered(request, entry[2], promoter)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    if request.user.pk != user_id or promoter is None or promoter.status != Promoter.Status.APPROVED:
        raise Http404
    if body is None:
        context, status = _stats_context(request, [promoter.pk], version=version)
        shared = catalog_cache.split_page(catalog_cache.shared_render(request, STATS_TEMPLATE, context))
        if key:
            catalog_cache.shared_set(key, (promoter.pk, version, shared))
        body = _layered(request, shared, promoter)
    return HttpResponse(body, status=status)


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
