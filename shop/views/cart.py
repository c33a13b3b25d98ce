"""Cart pages: the cart, and add / change / remove (POST, then back where the shopper was)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import DomainError
from shop.selectors.orders import cart_for_request, cart_lines, cart_lines_by_shop
from shop.services.cart import (
    cart_add,
    cart_get_or_create,
    cart_remove,
    cart_set_quantity,
    purchasable_sku,
    valid_quantity,
)

SESSION_CART_ID = "cart_id"


def current_cart(request, *, create: bool = False):
    """The cart of this request: the user's, or the anonymous one whose id the session keeps."""
    cart = cart_for_request(user=request.user, cart_id=request.session.get(SESSION_CART_ID))
    if cart is None and create:
        if request.user.is_authenticated:
            cart = cart_get_or_create(user=request.user)
        else:
            if not request.session.session_key:
                request.session.save()
            cart = cart_get_or_create(session_key=request.session.session_key)
            request.session[SESSION_CART_ID] = cart.pk
    return cart


def back(request, fallback: str = "shop:cart"):
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(fallback)


def cart_page(request):
    cart = current_cart(request)
    groups = cart_lines_by_shop(cart_lines(cart=cart))
    total_fen = sum(group["subtotal_fen"] for group in groups)
    return render(
        request,
        "shop/orders/cart.html",
        {"groups": groups, "total_fen": total_fen, "has_problem": any(g["has_problem"] for g in groups)},
    )


@require_POST
def cart_add_view(request):
    try:
        cart = current_cart(request)
        if cart is None:
            # Check the input before a cart is made for it: bad input must leave no row behind.
            valid_quantity(request.POST.get("quantity", 1))
            purchasable_sku(request.POST.get("sku_id"))
            cart = current_cart(request, create=True)
        cart_add(cart=cart, sku_id=request.POST.get("sku_id"), quantity=request.POST.get("quantity", 1))
    except DomainError as error:
        messages.error(request, error.message)
        return back(request)
    messages.success(request, _("Added to your cart."))
    return back(request)


@require_POST
def cart_update_view(request):
    cart = current_cart(request)
    if cart is not None:
        try:
            cart_set_quantity(
                cart=cart, sku_id=request.POST.get("sku_id"), quantity=request.POST.get("quantity")
            )
        except DomainError as error:
            messages.error(request, error.message)
    return redirect("shop:cart")


@require_POST
def cart_remove_view(request):
    cart = current_cart(request)
    if cart is not None:
        cart_remove(cart=cart, sku_ids=request.POST.getlist("sku_id"))
    return redirect("shop:cart")
