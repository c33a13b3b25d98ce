"""My orders (tabs by state), order detail (timeline, tracking), cancel and confirm receipt."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from config.exceptions import DomainError
from shop.models import Order
from shop.selectors.orders import BUYER_ORDER_TABS, order_for_buyer, orders_for_buyer
from shop.selectors.timeline import order_timeline
from shop.services.aftersales import after_sales_window_open
from shop.services.orders import OPEN_AFTER_SALES, order_cancel, order_confirm_receipt

TAB_LABELS = {
    "all": pgettext_lazy("order tab", "All"),
    "pending_payment": pgettext_lazy("order tab", "To pay"),
    "paid": pgettext_lazy("order tab", "To ship"),
    "shipped": pgettext_lazy("order tab", "Shipped"),
    "received": pgettext_lazy("order tab", "Received"),
    "cancelled": pgettext_lazy("order tab", "Cancelled"),
}


def _tab_labels():
    return [(key, TAB_LABELS[key]) for key in BUYER_ORDER_TABS]


@login_required
def order_list(request):
    tab = request.GET.get("tab", "all")
    if tab not in BUYER_ORDER_TABS:
        tab = "all"
    page = Paginator(orders_for_buyer(user=request.user, tab=tab), 10).get_page(request.GET.get("page"))
    return render(
        request,
        "shop/orders/list.html",
        {"page": page, "orders": page.object_list, "tab": tab, "tabs": _tab_labels()},
    )


def _own_order(request, number: str) -> Order:
    order = order_for_buyer(user=request.user, number=number)
    if order is None:
        raise Http404
    return order


@login_required
def order_detail(request, number: str):
    order = _own_order(request, number)
    open_lines = {r.line_id for r in order.after_sales.all() if r.status in OPEN_AFTER_SALES}
    can_request = after_sales_window_open(order)
    for line in order.lines.all():
        line.can_request_after_sales = (
            can_request and line.pk not in open_lines and line.refunded_quantity < line.quantity
        )
    return render(request, "shop/orders/detail.html", {"order": order, "timeline": order_timeline(order)})


@login_required
@require_POST
def order_cancel_view(request, number: str):
    order = _own_order(request, number)
    try:
        order_cancel(
            order_id=order.pk, buyer=request.user, actor=request.user, reason=_("Cancelled by the buyer")
        )
        messages.success(request, _("The order was cancelled."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("shop:order-detail", number=number)


@login_required
@require_POST
def order_receive_view(request, number: str):
    order = _own_order(request, number)
    try:
        order_confirm_receipt(order_id=order.pk, buyer=request.user)
        messages.success(request, _("Thanks! Receipt confirmed."))
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("shop:order-detail", number=number)
