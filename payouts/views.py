"""Promoter withdrawal page (phone-sized) and WeChat Pay's transfer notification endpoint."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from affiliates import selectors as affiliate_selectors
from affiliates.models import Promoter
from config.exceptions import DomainError, form_error_from
from payouts import selectors, services
from payouts.forms import WithdrawalForm

logger = logging.getLogger(__name__)


def _withdrawals_page(request, *, payee: dict, ask, back: str, extra: dict):
    """The withdrawal page of one payee (`payee`: promoter= or agency=); `ask(amount_fen)` requests."""
    form = WithdrawalForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                withdrawal = ask(form.amount_fen())
            except DomainError as error:
                form_error_from(form, error)
            else:
                messages.success(
                    request, _("Withdrawal requested: %(number)s") % {"number": withdrawal.out_bill_no}
                )
                return redirect(back)
        status = 400
    page = Paginator(selectors.withdrawals_of(**payee), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "payouts/withdrawals.html",
        {
            **extra,
            "form": form,
            "page": page,
            "wallet": selectors.wallet_of(**payee),
            "min_fen": settings.WITHDRAWAL_MIN_FEN,
        },
        status=status,
    )


@login_required
def withdrawals(request):
    promoter = affiliate_selectors.promoter_of(request.user)
    if promoter is None or promoter.status != Promoter.Status.APPROVED:
        raise Http404
    return _withdrawals_page(
        request,
        payee={"promoter": promoter},
        ask=lambda amount_fen: services.withdrawal_request(user=request.user, amount_fen=amount_fen),
        back="payouts:withdrawals",
        extra={"promoter": promoter},
    )


@login_required
def agency_withdrawals(request):
    """The agency's owner withdraws its settled service fees (to their own WeChat balance)."""
    agency = affiliate_selectors.agency_of(request.user)
    if agency is None:
        raise Http404
    return _withdrawals_page(
        request,
        payee={"agency": agency},
        ask=lambda amount_fen: services.agency_withdrawal_request(user=request.user, amount_fen=amount_fen),
        back="payouts:agency-withdrawals",
        extra={"agency": agency, "promoter": affiliate_selectors.promoter_of(request.user)},
    )


@csrf_exempt
@require_POST
def transfer_notify(request):
    """MCHTRANSFER.BILL.FINISHED from WeChat Pay: 204 when recorded, a 4xx JSON FAIL otherwise
    (WeChat then sends it again)."""
    try:
        services.payout_notification_handle(headers=request.headers, body=request.body)
    except DomainError as error:
        logger.warning("transfer notification refused: %s", error.message)
        status = error.status_code if 400 <= error.status_code < 500 else 400
        return JsonResponse({"code": "FAIL", "message": str(error.message)}, status=status)
    return HttpResponse(status=204)
