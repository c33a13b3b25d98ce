"""The pay page (starts a payment and sends the buyer to the provider) and the provider's
notification endpoints. The notification handlers answer WeChat Pay's way: 204 when accepted,
a 4xx JSON {"code": "FAIL", "message": ...} when refused (WeChat then retries)."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.exceptions import DomainError
from shop.models import Order
from shop.selectors.orders import order_for_buyer, orders_paid_together
from shop.services.payments import payment_notification_handle, payment_start, refund_notification_handle

logger = logging.getLogger(__name__)


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "127.0.0.1"


@login_required
def order_pay(request, number: str):
    order = order_for_buyer(user=request.user, number=number)
    if order is None:
        raise Http404
    if order.status != Order.Status.PENDING_PAYMENT:
        return redirect("shop:order-detail", number=number)
    if request.method == "POST":
        return_url = request.build_absolute_uri(reverse("shop:order-detail", args=[number]))
        try:
            result = payment_start(
                order_id=order.pk, buyer=request.user, client_ip=client_ip(request), return_url=return_url
            )
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("shop:order-pay", number=number)
        return redirect(result.pay_url)
    together = orders_paid_together(order)
    return render(
        request,
        "shop/orders/pay.html",
        {"order": order, "together": together, "total_fen": sum(o.total_fen for o in together)},
    )


def _refused(error: DomainError) -> JsonResponse:
    status = error.status_code if 400 <= error.status_code < 500 else 400
    logger.warning("notification refused: %s", error.message)
    return JsonResponse({"code": "FAIL", "message": str(error.message)}, status=status)


@csrf_exempt
@require_POST
def payment_notify(request):
    try:
        payment_notification_handle(headers=request.headers, body=request.body)
    except DomainError as error:
        return _refused(error)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def refund_notify(request):
    try:
        refund_notification_handle(headers=request.headers, body=request.body)
    except DomainError as error:
        return _refused(error)
    return HttpResponse(status=204)
