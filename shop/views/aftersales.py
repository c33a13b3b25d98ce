"""After-sales pages: request a refund (or return and refund) on one line, see and withdraw requests."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.exceptions import DomainError, form_error_from
from shop.models import AfterSalesRequest
from shop.private_media import content_type_for
from shop.selectors.orders import after_sales_for_buyer, after_sales_photo_for_viewer, order_for_buyer
from shop.services.aftersales import (
    MAX_PHOTOS,
    after_sales_create,
    after_sales_return_ship,
    after_sales_withdraw,
)


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Up to MAX_PHOTOS files; the service checks each is a real image within the size limit."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(item, initial) for item in files]


class AfterSalesForm(forms.Form):
    line_id = forms.TypedChoiceField(label=gettext_lazy("Item"), coerce=int)
    kind = forms.ChoiceField(
        label=gettext_lazy("Type"), choices=AfterSalesRequest.Kind.choices, widget=forms.RadioSelect
    )
    quantity = forms.IntegerField(label=gettext_lazy("Quantity"), min_value=1, initial=1)
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 3})
    )
    photos = MultipleImageField(
        label=gettext_lazy("Photos (optional)"),
        required=False,
    )

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        # Formatted per request: a lazy string formatted at import time would freeze one language.
        self.fields["photos"].help_text = _("Up to %(n)s images, %(mb)s MB each.") % {
            "n": MAX_PHOTOS,
            "mb": settings.MAX_IMAGE_UPLOAD_BYTES // (1024 * 1024),
        }
        self.fields["line_id"].choices = [
            (line.pk, f"{line.title} {line.spec_label} × {line.quantity - line.refunded_quantity}")
            for line in lines
        ]


@login_required
def after_sales_new(request, number: str):
    order = order_for_buyer(user=request.user, number=number)
    if order is None:
        raise Http404
    lines = [line for line in order.lines.all() if line.refunded_quantity < line.quantity]
    initial = {"line_id": request.GET.get("line")}
    form = AfterSalesForm(request.POST or None, request.FILES or None, lines=lines, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            after_sales_create(
                buyer=request.user,
                order_id=order.pk,
                line_id=form.cleaned_data["line_id"],
                kind=form.cleaned_data["kind"],
                quantity=form.cleaned_data["quantity"],
                reason=form.cleaned_data["reason"],
                photos=form.cleaned_data["photos"],
            )
        except DomainError as error:
            form_error_from(form, error)
        else:
            messages.success(request, _("Your request was sent to the shop."))
            return redirect("shop:order-detail", number=number)
    return render(request, "shop/orders/after_sales_form.html", {"form": form, "order": order})


class ReturnShipmentForm(forms.Form):
    carrier = forms.CharField(label=gettext_lazy("Carrier"), max_length=40)
    tracking_number = forms.CharField(label=gettext_lazy("Tracking number"), max_length=64)


@login_required
def after_sales_list(request):
    requests = list(after_sales_for_buyer(user=request.user)[:50])
    return_days = timedelta(days=settings.AFTER_SALES_RETURN_DAYS)
    for row in requests:
        if row.status in (AfterSalesRequest.Status.AWAITING_RETURN, AfterSalesRequest.Status.RETURN_SHIPPED):
            row.return_form = ReturnShipmentForm(
                initial={"carrier": row.return_carrier, "tracking_number": row.return_tracking_number},
                prefix=f"r{row.pk}",
            )
            row.return_deadline = row.decided_at + return_days if row.decided_at else None
    return render(request, "shop/orders/after_sales_list.html", {"requests": requests})


@login_required
@require_POST
def after_sales_return_view(request, request_id: int):
    """The buyer enters how the goods were sent back (return and refund)."""
    form = ReturnShipmentForm(request.POST, prefix=f"r{request_id}")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("shop:after-sales")
    try:
        after_sales_return_ship(request_id=request_id, buyer=request.user, **form.cleaned_data)
        messages.success(request, _("Thanks! The shop refunds once the goods arrive."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("shop:after-sales")


@login_required
@require_POST
def after_sales_withdraw_view(request, request_id: int):
    try:
        after_sales_withdraw(request_id=request_id, buyer=request.user)
        messages.success(request, _("Request withdrawn."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("shop:after-sales")


@login_required
def after_sales_photo(request, photo_id: int):
    """An after-sales photo, for the buyer, the shop's staff and operators only; to anyone else it does
    not exist (404). Private files have no public address (shop/private_media.py)."""
    photo = after_sales_photo_for_viewer(user=request.user, photo_id=photo_id)
    if photo is None:
        raise Http404
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type_for(photo.image.name))
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = "inline"
    return response
