"""Promoter pages (phone-sized): apply, pool, showcase, links with QR codes and share cards, the
ledger and balance; the public showcase and share card. Thin: services write, selectors read."""

import functools
import hashlib
import io
from decimal import Decimal

import qrcode
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from affiliates import page_cache, selectors, services
from affiliates.forms import ApplyForm, ChildLinkForm, JoinForm, LinkForm, PoolFilterForm, ShareForm
from affiliates.models import Agency, Promoter, TrackedLink
from config.exceptions import DomainError, form_error_from
from shop import catalog_cache
from shop.catalog_cache import list_key
from shop.models import Category


@functools.cache
def _promoter_sql() -> str:
    quote = connection.ops.quote_name
    promoter, agency = (quote(model._meta.db_table) for model in (Promoter, Agency))
    columns = ", ".join(
        [f"{promoter}.{quote(field.column)}" for field in Promoter._meta.concrete_fields]
        + [f"{agency}.{quote(field.column)}" for field in Agency._meta.concrete_fields]
    )
    return (
        f"SELECT {columns} FROM {promoter} LEFT JOIN {agency} ON {agency}.{quote(Agency._meta.pk.column)}"
        f" = {promoter}.{quote(Promoter._meta.get_field('agency').column)}"
        f" WHERE {promoter}.{quote(Promoter._meta.get_field('user').column)} = %s"
    )


def _promoter_row(user) -> Promoter | None:
    """The user's promoter profile with its agency (the promoter nav shows it), in one statement
    written once from the models' metadata: the ORM building selectors.promoter_of's lookup was two
    thirds of a cached promoter page's CPU."""
    with connection.cursor() as cursor:
        cursor.execute(_promoter_sql(), [user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    own = Promoter._meta.concrete_fields
    promoter = Promoter.from_db(connection.alias, [field.attname for field in own], row[: len(own)])
    agency_row, agency_attnames = row[len(own) :], [field.attname for field in Agency._meta.concrete_fields]
    agency = None
    if agency_row[0] is not None:
        agency = Agency.from_db(connection.alias, agency_attnames, agency_row)
    Promoter._meta.get_field("agency").set_cached_value(promoter, agency)
    return promoter


def _approved(request, role=None) -> Promoter:
    promoter = _promoter_row(request.user) if request.user.is_authenticated else None
    if promoter is None or promoter.status != Promoter.Status.APPROVED or (role and promoter.role != role):
        raise Http404
    return promoter


@login_required
def home(request):
    promoter = selectors.promoter_of(request.user)
    agency = selectors.agency_of(request.user)
    if promoter is None:
        if agency is not None:
            return redirect("affiliates:agency-ledger")
        return redirect("affiliates:apply")
    context = {"promoter": promoter, "agency": agency}
    if promoter.status == Promoter.Status.APPROVED:
        context["balance"] = selectors.balance_of(promoter=promoter)
        context["join_form"] = (
            JoinForm()
            if promoter.role == Promoter.Role.SHARER
            and not (promoter.bound_creator_id or promoter.bound_agency_id)
            else None
        )
        context["share_form"] = (
            ShareForm(initial={"share_percent": Decimal(promoter.default_share_bp) / 100})
            if promoter.is_creator
            else None
        )
        if promoter.is_creator:
            context["sharers"] = promoter.sharers.order_by("display_name", "pk")
    return render(request, "affiliates/home.html", context)


@login_required
def apply(request):
    promoter = selectors.promoter_of(request.user)
    if promoter is not None and promoter.status != Promoter.Status.REJECTED:
        return redirect("affiliates:home")
    form = ApplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.promoter_apply(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Application sent. An operator will review it."))
            return redirect("affiliates:home")
    return render(request, "affiliates/apply.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_POST
def join(request):
    promoter = _approved(request, Promoter.Role.SHARER)
    form = JoinForm(request.POST)
    if form.is_valid():
        try:
            services.sharer_bind(promoter=promoter, invitation_code=form.cleaned_data["invitation_code"])
            messages.success(request, _("You joined the team."))
        except DomainError as error:
            messages.error(request, error.message)
    else:
        messages.error(request, _("Enter an invitation code."))
    return redirect("affiliates:home")


@login_required
@require_POST
def share(request):
    promoter = _approved(request, Promoter.Role.CREATOR)
    form = ShareForm(request.POST)
    if form.is_valid():
        services.share_set(owner=promoter, share_bp=int(form.cleaned_data["share_percent"] * 100))
        messages.success(request, _("推客 share saved."))
    else:
        messages.error(request, _("Choose a share between 10% and 100%."))
    return redirect("affiliates:home")


def _promoter_page(request, *, template: str, build, key: str | None = None, status: int = 200):
    """A promoter's own page in the README's *Speed* pattern: the frame's personal parts (who is
    signed in, badges, messages, the CSRF token) are layered on by shop.catalog_cache; the body is
    cached under `key` (see page_cache.promoter_page_key) or, with None, built for this request."""
    return catalog_cache.page_response(
        request, key=key, template=template, build_context=build, generational=key is not None, status=status
    )


@login_required
def pool(request):
    promoter = _approved(request, Promoter.Role.CREATOR)
    # Filters are checked before the cache is read (a bad one is a 400, never cached); without any,
    # the unbound form is only needed when the page is built.
    form = PoolFilterForm(request.GET) if request.GET else None
    if form is not None and not form.is_valid():
        return _promoter_page(
            request,
            template="affiliates/pool.html",
            build=lambda: _pool_context(promoter, form, request.GET.get("page")),
            status=400,
        )
    key = page_cache.promoter_page_key(
        page="pool",
        promoter_id=promoter.pk,
        language=get_language(),
        query=f"{_frame_parts(promoter)}:{catalog_cache.query_digest(request.GET)}",
    )
    return _promoter_page(
        request,
        template="affiliates/pool.html",
        build=lambda: _pool_context(promoter, form or PoolFilterForm(), request.GET.get("page")),
        key=key,
    )


def _pool_context(promoter: Promoter, form: PoolFilterForm, page_number) -> dict:
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        to_fen = lambda v: int(v * 100) if v is not None else None  # noqa: E731
        filters = {
            "category": Category.objects.filter(pk=data["category"]).first()
            if data.get("category")
            else None,
            "rate_min_bp": to_fen(data.get("rate_min")),
            "price_min_fen": to_fen(data.get("price_min")),
            "price_max_fen": to_fen(data.get("price_max")),
            "ordering": data.get("ordering") or "sales",
        }
    products = selectors.pool_products(promoter=promoter, **filters)
    return {
        "form": form,
        "page": Paginator(products, 20).get_page(page_number),
        "in_showcase": set(promoter.showcase_items.values_list("product_id", flat=True)),
        "categories": list(Category.objects.filter(parent__isnull=True)),
        "promoter": promoter,
    }


@login_required
@require_POST
def showcase_add(request):
    promoter = _approved(request, Promoter.Role.CREATOR)
    try:
        services.showcase_add(promoter=promoter, product_id=request.POST.get("product_id", ""))
        messages.success(request, _("Added to your showcase."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect(request.POST.get("next") or "affiliates:showcase-edit")


@login_required
def showcase_edit(request):
    promoter = _approved(request, Promoter.Role.CREATOR)
    if request.method == "POST":
        services.showcase_remove(promoter=promoter, product_id=request.POST.get("remove", "0"))
        messages.success(request, _("Removed from your showcase."))
        return redirect("affiliates:showcase-edit")
    return _promoter_page(
        request,
        template="affiliates/showcase_edit.html",
        build=lambda: {"promoter": promoter, "items": list(selectors.showcase_products(creator=promoter))},
        key=page_cache.promoter_page_key(
            page="showcase-edit",
            promoter_id=promoter.pk,
            language=get_language(),
            query=f"{_frame_parts(promoter)}:{catalog_cache.query_digest(request.GET)}",
        ),
    )


def showcase(request, code):
    """A creator's public showcase. Its shared part is cached (affiliates/page_cache.py) and the
    visitor's own parts (who is signed in, cart badge, messages) are layered on per request."""
    if not (code.isalnum() and len(code) <= 16):
        raise Http404

    def build() -> dict:
        creator = get_object_or_404(
            Promoter, showcase_code=code, role=Promoter.Role.CREATOR, status=Promoter.Status.APPROVED
        )
        return {"creator": creator, "items": list(selectors.showcase_products(creator=creator))}

    return catalog_cache.page_response(
        request,
        key=page_cache.showcase_key(code, get_language()),
        template="affiliates/showcase.html",
        build_context=build,
        generational=True,
    )


def _link_forms(promoter: Promoter, data=None) -> tuple[LinkForm, ChildLinkForm | None]:
    showcase_items = selectors.showcase_products(creator=promoter) if promoter.is_creator else []
    form = LinkForm(data, products=[item.product for item in showcase_items])
    child_form = (
        ChildLinkForm(data, products=list(selectors.exclusive_products_for(promoter=promoter)))
        if not promoter.is_creator
        else None
    )
    return form, child_form


_LINKS_SHOWN = 100
# The links the page lists (selectors.promoter_links' order), as (id, active) pairs: with their click
# counts, what the rendered list depends on.
_LINKS_STATE_SQL = (
    "SELECT id, is_active FROM affiliates_trackedlink WHERE promoter_id = %s"
    " ORDER BY created_at DESC, id DESC LIMIT %s"
)


@login_required
def links(request):
    """The promoter's links with their click counts, and the form that makes one. The counts are
    read on every request (they move with every flush); the rendered page is cached under the
    links, their counts, the promoter's showcase version (the form's products) and the catalog
    generation, the frame layered on. A form with errors is built for its request."""
    promoter = _approved(request)
    if request.method == "POST":
        form, child_form = _link_forms(promoter, request.POST)
        active_form = form if promoter.is_creator else child_form
        if active_form.is_valid():
            try:
                if promoter.is_creator:
                    link = services.link_create(promoter=promoter, **form.cleaned_data)
                elif child_form.cleaned_data.get("product_id") and not child_form.cleaned_data["parent_code"]:
                    link = services.sharer_link_create(
                        promoter=promoter,
                        scene=child_form.cleaned_data["scene"],
                        product_id=child_form.cleaned_data["product_id"],
                    )
                else:
                    link = services.child_link_create(
                        promoter=promoter,
                        parent_code=child_form.cleaned_data["parent_code"],
                        scene=child_form.cleaned_data["scene"],
                    )
            except DomainError as error:
                form_error_from(active_form, error)
            else:
                messages.success(request, _("Link created."))
                return redirect("affiliates:link-card", code=link.code)
        return _promoter_page(
            request,
            template="affiliates/links.html",
            build=lambda: _links_context(promoter, form, child_form, None),
            status=400,
        )

    with connection.cursor() as cursor:
        cursor.execute(_LINKS_STATE_SQL, [promoter.pk, _LINKS_SHOWN])
        shown = cursor.fetchall()
    stats = selectors.link_stats([link_id for link_id, _active in shown])
    state = repr([(link_id, active, stats.get(link_id)) for link_id, active in shown]).encode()
    key = page_cache.promoter_page_key(
        page="links",
        promoter_id=promoter.pk,
        language=get_language(),
        query=":".join(
            [
                _frame_parts(promoter),
                hashlib.blake2b(state, digest_size=12).hexdigest(),
                catalog_cache.query_digest(request.GET),  # the frame shows the path and ?q=
            ]
        ),
    )

    def build() -> dict:
        form, child_form = _link_forms(promoter)
        return _links_context(promoter, form, child_form, stats)

    return _promoter_page(request, template="affiliates/links.html", build=build, key=key)


def _links_context(promoter: Promoter, form, child_form, stats: dict | None) -> dict:
    link_list = list(selectors.promoter_links(promoter=promoter)[:_LINKS_SHOWN])
    if stats is None:
        stats = selectors.link_stats([link.pk for link in link_list])
    for link in link_list:
        link.stats = stats.get(link.pk, {"clicks": 0, "visits": 0})
    return {"promoter": promoter, "form": form, "child_form": child_form, "links": link_list}


def _link_url(link: TrackedLink) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/t/{link.code}"


def link_qr(request, code):
    """The link's QR code as a PNG (made with the qrcode library, drawn by Pillow)."""
    link = get_object_or_404(TrackedLink, code=code)
    image = qrcode.make(_link_url(link), box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def link_card(request, code):
    """The share card: what the link sells, its QR code and address, ready for a screenshot.
    Cached and layered like the showcase."""
    if not (code.isalnum() and len(code) <= 16):
        raise Http404

    def build() -> dict:
        link = get_object_or_404(
            TrackedLink.objects.select_related("product", "creator", "promoter"), code=code
        )
        return {"link": link, "url": _link_url(link)}

    return catalog_cache.page_response(
        request,
        key=page_cache.card_key(code, get_language()),
        template="affiliates/card.html",
        build_context=build,
        generational=True,
    )


# The state of a promoter's ledger in one statement: the balance, and a fingerprint of which entries
# exist and the state of each (entries are append-only; only their status moves). The page's rendered
# entries are cached under it, so a page is never older than the ledger it was read from.
_LEDGER_STATE_SQL = """
SELECT COALESCE(SUM(amount_fen) FILTER (WHERE status = 'settled'), 0),
       COALESCE(SUM(amount_fen) FILTER (WHERE status = 'pending'), 0),
       COUNT(*), COALESCE(MAX(id), 0),
       COALESCE(SUM(('x' || substr(md5(id::text || ':' || status), 1, 15))::bit(60)::bigint), 0)
FROM affiliates_commissionentry WHERE promoter_id = %s
"""


def _frame_parts(promoter: Promoter) -> str:
    """What the promoter nav shows about the promoter, for the keys of their cached pages."""
    agency = promoter.agency
    shown = (promoter.role, agency.pk, agency.name, agency.owner_id) if agency else (promoter.role,)
    return hashlib.blake2b(repr(shown).encode(), digest_size=8).hexdigest()


@login_required
def ledger(request):
    """The promoter's ledger and balance. Money is read from the database on every request (the
    balance and the ledger's fingerprint, one statement); the rendered entries are cached under
    that fingerprint (and the catalog generation, for product titles), the frame layered on."""
    promoter = _approved(request)
    key, balance = None, None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LEDGER_STATE_SQL, [promoter.pk])
            settled, pending, *fingerprint = cursor.fetchone()
        balance = {"settled_fen": int(settled), "pending_fen": int(pending)}
        key = list_key(
            name="affiliates-ledger",
            language=get_language(),
            parts=[
                promoter.pk,
                _frame_parts(promoter),
                settled,
                pending,
                *fingerprint,
                catalog_cache.query_digest(request.GET),
            ],
        )

    def build() -> dict:
        page = Paginator(selectors.promoter_ledger(promoter=promoter), 30).get_page(request.GET.get("page"))
        return {
            "promoter": promoter,
            "page": page,
            "balance": balance or selectors.balance_of(promoter=promoter),
        }

    return _promoter_page(request, template="affiliates/ledger.html", build=build, key=key)


@login_required
@require_POST
def leave(request):
    """A 推客 leaves the creator or agency they joined."""
    promoter = _approved(request, Promoter.Role.SHARER)
    try:
        services.sharer_unbind(sharer_id=promoter.pk, actor=request.user)
        messages.success(request, _("You left the team."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("affiliates:home")


@login_required
@require_POST
def sharer_remove(request, sharer_id: int):
    """A creator, or an agency's owner, removes a 推客 from their team (others: 404)."""
    try:
        services.sharer_unbind(sharer_id=sharer_id, actor=request.user)
    except DomainError:
        raise Http404 from None
    messages.success(request, _("The 推客 left your team."))
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "affiliates:home")


@login_required
def agency_ledger(request):
    """The agency's own earnings (its service fees): balance and ledger, for the agency's owner."""
    agency = selectors.agency_of(request.user)
    if agency is None:
        raise Http404
    page = Paginator(selectors.agency_ledger(agency=agency), 30).get_page(request.GET.get("page"))
    sharers = Promoter.objects.filter(bound_agency=agency).order_by("display_name", "pk")
    return render(
        request,
        "affiliates/agency_ledger.html",
        {
            "agency": agency,
            "page": page,
            "balance": selectors.balance_of(agency=agency),
            "sharers": sharers,
        },
    )


@login_required
def invite(request, code: str):
    """An invitation link (`/promoter/invite/<code>/`): who invites, and a one-tap join for an
    approved 推客 (the join itself is the POST to `join`, with the same checks as a typed code)."""
    from affiliates.models import Agency

    leader = None
    if code.isalnum() and len(code) <= 16:
        leader = (
            Promoter.objects.filter(
                invitation_code=code, role=Promoter.Role.CREATOR, status=Promoter.Status.APPROVED
            )
            .values_list("display_name", flat=True)
            .first()
        ) or Agency.objects.filter(invitation_code=code, is_active=True).values_list(
            "name", flat=True
        ).first()
    if leader is None:
        raise Http404
    promoter = selectors.promoter_of(request.user)
    can_join = (
        promoter is not None
        and promoter.role == Promoter.Role.SHARER
        and promoter.status == Promoter.Status.APPROVED
        and not (promoter.bound_creator_id or promoter.bound_agency_id)
    )
    return render(
        request,
        "affiliates/invite.html",
        {"leader": leader, "code": code, "promoter": promoter, "can_join": can_join},
    )
