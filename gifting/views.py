"""Gift pages: give (from a product page), the share card with its QR code, the claim page, my gifts
sent and received. Thin: every change goes through gifting.services; every read of another
person's data through gifting.selectors (which decide what the giver and the recipient may see)."""

import functools
import io
import uuid

import qrcode
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import DomainError, form_error_from
from gifting import selectors, services
from gifting.models import MESSAGE_MAX_LENGTH, THANKS_MAX_LENGTH, Gift, GiftClaim
from shop import hooks
from shop.catalog_cache import CSRF_PLACEHOLDER, page_response
from shop.models import Product


class GiftForm(forms.Form):
    sku_id = forms.IntegerField(label=gettext_lazy("Spec"))
    mode = forms.ChoiceField(
        label=gettext_lazy("Who is it for"), choices=Gift.Mode.choices, initial=Gift.Mode.FRIEND
    )
    copies = forms.IntegerField(label=gettext_lazy("Copies"), min_value=1, initial=1)
    draw_hours = forms.TypedChoiceField(
        label=gettext_lazy("Lucky draw after (hours)"),
        choices=[(h, h) for h in services.DRAW_HOURS_CHOICES],
        coerce=int,
        required=False,
        initial=2,
    )
    message = forms.CharField(
        label=gettext_lazy("Wish message"),
        max_length=MESSAGE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MESSAGE_MAX_LENGTH}),
    )
    channel = forms.ChoiceField(label=gettext_lazy("Send it on"), choices=Gift.Channel.choices)
    friends_only = forms.BooleanField(label=gettext_lazy("Only my friends may accept"), required=False)
    checkout_id = forms.UUIDField(widget=forms.HiddenInput, required=False)


class ClaimForm(forms.Form):
    sku_id = forms.IntegerField(required=False)
    address_id = forms.IntegerField(required=False)
    recipient_name = forms.CharField(label=gettext_lazy("Recipient"), max_length=40, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=20, required=False)
    province = forms.CharField(label=gettext_lazy("Province"), max_length=40, required=False)
    city = forms.CharField(label=gettext_lazy("City"), max_length=40, required=False)
    district = forms.CharField(label=gettext_lazy("District"), max_length=40, required=False)
    detail = forms.CharField(label=gettext_lazy("Street address"), max_length=200, required=False)


class ThanksForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Thank-you note"),
        max_length=THANKS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": THANKS_MAX_LENGTH}),
    )


def _giftable_skus(product):
    return [sku for sku in product.skus.all() if sku.is_active]


@login_required
def gift_new(request, product_id: int):
    """送给朋友: choose the spec, copies, who it is for and a message; then pay like any order."""
    product = get_object_or_404(
        Product.objects.select_related("shop", "category").prefetch_related("skus"),
        pk=product_id,
        status=Product.Status.ON_SALE,
    )
    skus = _giftable_skus(product)
    status = 200
    if request.method == "POST":
        form = GiftForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                gift = services.gift_create(
                    giver=request.user,
                    sku_id=data["sku_id"],
                    copies=data["copies"],
                    mode=data["mode"],
                    message=data["message"],
                    channel=data["channel"],
                    friends_only=data["friends_only"],
                    draw_hours=data.get("draw_hours"),
                    checkout_id=data.get("checkout_id"),
                    checkout_context=hooks.checkout_context(request),
                )
            except DomainError as error:
                form_error_from(form, error)
            else:
                return redirect("shop:order-pay", gift.order.number)
        status = 400
    else:
        form = GiftForm(initial={"sku_id": skus[0].pk if skus else None, "checkout_id": uuid.uuid4()})
    return render(
        request,
        "gifting/new.html",
        {"product": product, "skus": skus, "form": form, "giftable": services.product_giftable(product)},
        status=status,
    )


@login_required
def gift_of_order(request, number: str):
    """From a gift order's page to its share card."""
    gift = get_object_or_404(Gift, order__number=number, giver=request.user)
    return redirect("gifting:sent-detail", gift.token)


@login_required
def sent_list(request):
    """The giver's gifts. Nothing on it is shared with other visitors, so nothing is cached; it is
    still built the README's way: the frame's own parts (nav, badges, messages) are markers filled
    from the one statement of the visitor's figures, not rendered through the whole base template."""
    gifts = selectors.gifts_sent(request.user)
    return page_response(
        request, key=None, template="gifting/sent_list.html", build_context=lambda: {"gifts": gifts}
    )


@login_required
def sent_detail(request, token: str):
    """The giver's page of one gift: share card (link, QR, channel), who accepted and the shipping
    stage of each copy (never their address), thank-you notes, the timeline, the draw's record."""
    gift = selectors.gift_of_giver(user=request.user, token=token)
    if gift is None:
        raise Http404
    if gift.status == Gift.Status.AWAITING_PAYMENT:
        gift = services.gift_by_token(token)
        gift = selectors.gift_of_giver(user=request.user, token=token)
    claims = list(gift.claims.all())
    return render(
        request,
        "gifting/sent_detail.html",
        {
            "gift": gift,
            "share_url": selectors.share_url(gift),
            "claims": [selectors.giver_claim_view(claim) for claim in claims],
            "timeline": selectors.gift_timeline(gift, claims),
            "draw": selectors.draw_record(gift) if gift.mode == Gift.Mode.DRAW else None,
            "refunded_fen": selectors.gift_refunded_fen(gift),
        },
    )


def gift_qr(request, token: str):
    """The share link as a QR code (PNG, qrcode library)."""
    gift = get_object_or_404(Gift, token=token)
    image = qrcode.make(selectors.share_url(gift), box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return HttpResponse(buffer.getvalue(), content_type="image/png")


def _claim_action_context(request, gift: Gift, *, form=None) -> dict:
    """What the visitor's own part of the claim page shows: for a signed-in visitor, their claim
    of this gift and, if they may still accept, the specs and their addresses (one statement,
    selectors.claim_page_visitor); for a lucky draw, their entry."""
    user = request.user
    signed_in = user.is_authenticated
    is_giver = signed_in and user.pk == gift.giver_id
    open_to_them = signed_in and not is_giver and gift.status == Gift.Status.OPEN
    entry = None
    if open_to_them and gift.mode == Gift.Mode.DRAW:
        entry = gift.entries.filter(user=user).first()
        open_to_them = bool(entry and entry.won)
    facts = selectors.claim_page_visitor(gift=gift, user=user, choices=open_to_them) if signed_in else None
    mine = facts.mine if facts else None
    may_claim = open_to_them and not mine
    return {
        "gift": gift,
        "signed_in": signed_in,
        "is_giver": is_giver,
        "path": request.path,
        "skus": facts.skus if may_claim else [],
        "addresses": facts.addresses if may_claim else [],
        "form": form,
        "blank_address_fields": _blank_address_fields() if may_claim and form is None else "",
        "mine": mine,
        "entry": entry,
        "thanks_form": ThanksForm(initial={"note": mine["thanks"]}) if mine else None,
    }


@functools.lru_cache(maxsize=8)
def _blank_address_fields_rendered(language: str) -> str:
    return render_to_string("gifting/_claim_address_fields.html", {"form": ClaimForm()})


def _blank_address_fields() -> str:
    """The empty new-address fields of the claim form: the same for every visitor, so rendered once
    per process and language (form widgets are the costliest part of the page to render)."""
    if settings.DEBUG:
        return render_to_string("gifting/_claim_address_fields.html", {"form": ClaimForm()})
    return _blank_address_fields_rendered(get_language())


def _claim_left_part(visitor, args) -> str:
    """Personal part `gift_left`: copies left and the deadline, as they are now."""
    gift = visitor.request.gift_page
    return render_to_string("gifting/_claim_left.html", {"gift": gift})


def _claim_action_part(visitor, args) -> str:
    """Personal part `gift_claim`: what this visitor may do with the gift (see _claim_action.html)."""
    context = _claim_action_context(visitor.request, visitor.request.gift_page)
    return render_to_string("gifting/_claim_action.html", {**context, "csrf_token": CSRF_PLACEHOLDER})


def claim(request, token: str):
    """The recipient's page: product, spec choice (same price, price not shown), message and the
    giver's nickname; sign in and come back; pick or enter an address; confirm.

    Shown (GET) the README's way: the part every visitor sees (giver, product, message) is cached
    per gift and language; the copies left and what the visitor may do are personal parts
    (`gift_left`, `gift_claim`) filled per request. A POST with errors re-shows the whole page."""
    try:
        gift = services.gift_by_token(token, with_copies_left=True)
    except DomainError:
        return render(request, "gifting/claim_missing.html", status=404)
    if request.method == "POST" and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    # Only a gift nobody opened yet needs the user now: otherwise the layered page reads the
    # signed-in user together with the visitor's badges, in one statement.
    if gift.opened_at is None and request.user.is_authenticated:
        services.gift_mark_opened(gift=gift, user=request.user)
    if request.method != "POST":
        request.gift_page = gift
        return page_response(
            request,
            key=f"gift-page:{gift.token}:{get_language()}",
            template="gifting/claim_page.html",
            build_context=lambda: {"gift": gift},
        )
    form = ClaimForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        address = {
            name: data.get(name)
            for name in ("recipient_name", "phone", "province", "city", "district", "detail")
        }
        try:
            services.gift_claim(
                token=token,
                recipient=request.user,
                sku_id=data.get("sku_id"),
                address_id=data.get("address_id"),
                address=address if any(address.values()) else None,
            )
        except DomainError as error:
            form_error_from(form, error)
            status = error.status_code if error.status_code in (403, 409) else 400
        else:
            messages.success(request, _("Accepted! The shop will send it to you."))
            return redirect("gifting:claim", token)
    gift = services.gift_by_token(token, with_copies_left=True)
    return render(
        request, "gifting/claim.html", _claim_action_context(request, gift, form=form), status=status
    )


@login_required
@require_POST
def draw_enter(request, token: str):
    try:
        services.gift_enter_draw(token=token, user=request.user)
        messages.success(request, _("You are in the lucky draw. Good luck!"))
    except DomainError as error:
        messages.error(request, str(error.message))
    return redirect("gifting:claim", token)


@login_required
@require_POST
def thank(request, claim_id: int):
    claim_row = get_object_or_404(
        GiftClaim.objects.select_related("gift"), pk=claim_id, recipient=request.user
    )
    form = ThanksForm(request.POST)
    if form.is_valid():
        try:
            services.gift_thank(claim_id=claim_row.pk, recipient=request.user, note=form.cleaned_data["note"])
            messages.success(request, _("Your thank-you note was sent."))
        except DomainError as error:
            messages.error(request, str(error.message))
    else:
        messages.error(
            request, _("Write a thank-you note of up to %(n)s characters.") % {"n": THANKS_MAX_LENGTH}
        )
    return redirect("gifting:claim", claim_row.gift.token)


@login_required
def received_list(request):
    claims = selectors.claims_received(request.user)
    rows = [
        (claim, selectors.shipping_stage_label(selectors.shipping_stage(claim.order))) for claim in claims
    ]
    return page_response(
        request, key=None, template="gifting/received_list.html", build_context=lambda: {"rows": rows}
    )
