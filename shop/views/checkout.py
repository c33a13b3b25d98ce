"""Checkout pages: confirm address and notes, then place one order per shop. "Buy now" skips the cart."""

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.exceptions import DomainError, form_error_from
from shop import hooks
from shop.models import SKU
from shop.selectors.orders import cart_lines, cart_lines_by_shop
from shop.services.cart import purchasable_sku, valid_quantity
from shop.services.checkout import checkout_buy_now, checkout_from_cart, checkout_placed_orders
from shop.views.cart import back, current_cart

SESSION_BUY_NOW = "buy_now"


class CheckoutForm(forms.Form):
    address_id = forms.TypedChoiceField(label=gettext_lazy("Ship to"), coerce=int, widget=forms.RadioSelect)
    checkout_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, addresses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["address_id"].choices = [
            (a.pk, f"{a.recipient_name} {a.phone} {a.one_line}") for a in addresses
        ]
        default = next((a.pk for a in addresses if a.is_default), addresses[0].pk if addresses else None)
        self.fields["address_id"].initial = default
        self.fields["checkout_id"].initial = uuid.uuid4()


class _BuyNowLine:
    """A cart-line look-alike for the checkout page in buy-now mode."""

    def __init__(self, sku: SKU, quantity: int):
        self.sku, self.quantity, self.sku_id = sku, quantity, sku.pk


def _buy_now_lines(request) -> list:
    data = request.session.get(SESSION_BUY_NOW) or {}
    sku = (
        SKU.objects.select_related("product__shop")
        .prefetch_related("product__images")
        .filter(pk=data.get("sku_id"))
        .first()
    )
    return [_BuyNowLine(sku, int(data.get("quantity", 1)))] if sku else []


@require_POST
def buy_now(request):
    """From the product page: remember the SKU and quantity, then confirm on the checkout page."""
    try:
        sku = purchasable_sku(request.POST.get("sku_id"))
        quantity = valid_quantity(request.POST.get("quantity", 1))
        if quantity > sku.stock:
            raise DomainError(_("Not enough stock left."), field="quantity")
    except DomainError as error:
        messages.error(request, error.message)
        return back(request, fallback="/")
    request.session[SESSION_BUY_NOW] = {"sku_id": sku.pk, "quantity": quantity}
    target = reverse("shop:checkout") + "?mode=buy_now"
    if not request.user.is_authenticated:
        return redirect_to_login(target)
    return redirect(target)


def _after_placing(request, orders):
    # One cashier trip for the whole checkout: the pay page of any of its orders pays them all.
    if len(orders) > 1:
        messages.success(
            request, _("%(n)s orders placed, one per shop; pay them together below.") % {"n": len(orders)}
        )
    return redirect("shop:order-pay", number=orders[0].number)


@login_required
def checkout(request):
    buy_now_mode = request.GET.get("mode") == "buy_now"
    lines = _buy_now_lines(request) if buy_now_mode else cart_lines(cart=current_cart(request))
    if not lines and request.method == "POST":
        # The same form sent again (double tap, back and resend): its orders are already placed.
        placed = checkout_placed_orders(buyer=request.user, checkout_id=request.POST.get("checkout_id", ""))
        if placed:
            return _after_placing(request, placed)
    if not lines:
        messages.info(request, _("Your cart is empty."))
        return redirect("shop:cart")
    groups = cart_lines_by_shop(lines)
    addresses = list(request.user.addresses.all())
    form = CheckoutForm(request.POST or None, addresses=addresses)
    if request.method == "POST" and form.is_valid():
        notes = {group["shop"].pk: request.POST.get(f"note_{group['shop'].pk}", "") for group in groups}
        try:
            if buy_now_mode:
                line = lines[0]
                orders = [
                    checkout_buy_now(
                        buyer=request.user,
                        sku_id=line.sku_id,
                        quantity=line.quantity,
                        address_id=form.cleaned_data["address_id"],
                        note=notes.get(line.sku.product.shop_id, ""),
                        checkout_id=form.cleaned_data["checkout_id"],
                        checkout_context=hooks.checkout_context(request),
                    )
                ]
                request.session.pop(SESSION_BUY_NOW, None)
            else:
                orders = checkout_from_cart(
                    buyer=request.user,
                    cart=current_cart(request),
                    address_id=form.cleaned_data["address_id"],
                    notes=notes,
                    checkout_id=form.cleaned_data["checkout_id"],
                    sku_ids=[line.sku_id for line in lines],
                    checkout_context=hooks.checkout_context(request),
                )
        except DomainError as error:
            form_error_from(form, error)
        else:
            return _after_placing(request, orders)
    return render(
        request,
        "shop/orders/checkout.html",
        {
            "form": form,
            "groups": groups,
            "addresses": addresses,
            "total_fen": sum(group["subtotal_fen"] for group in groups),
            "buy_now_mode": buy_now_mode,
            "has_problem": any(group["has_problem"] for group in groups),
        },
    )
