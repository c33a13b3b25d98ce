"""Promoter withdrawal pages (phone-sized) and WeChat Pay's transfer notification endpoint.

The withdrawal pages (a promoter's own, an agency owner's for the agency's fees) are built like the
promoter centre's statistics page (affiliates/centre.py, README "Speed"): their shared part (the
page frame, the form, the list of withdrawals) belongs to one signed-in person, so it is cached under
a key made from the session (known before the session is read, so both come in one Redis round
trip) and used only when it was built for the same user, payee and withdrawals. Money is never
cached: the wallet is read on every view, in the one statement that also finds the payee and
fingerprints their withdrawals (payouts.selectors.withdrawal_page_state), so what a page shows can
never be older than the ledger, whatever changed it (a withdrawal asked, reviewed, paid or failed;
commission accrued, settled, cancelled or clawed back by the ledger's set-based jobs). The wallet,
the promoter menu, the top bar, messages and the CSRF token are layered on per request."""

import hashlib
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from affiliates.centre import NavAgency, NavPromoter
from config.exceptions import DomainError, form_error_from
from payouts import selectors, services
from payouts.forms import WithdrawalForm
from shop import catalog_cache

logger = logging.getLogger(__name__)

TEMPLATE = "payouts/withdrawals.html"


def page_key(*, payee: str, session_key: str, params, language: str) -> str:
    """The key of a withdrawal page's shared part, by the visitor's session (a session belongs to one
    user for its whole life); the entry still names the user, payee and withdrawals it was built
    for. The smallest withdrawal is in it: the form's note shows it, and a deploy may change it."""
    session = hashlib.blake2b(session_key.encode(), digest_size=12).hexdigest()
    digest = catalog_cache.query_digest(params)
    minimum = int(settings.WITHDRAWAL_MIN_FEN)
    return catalog_cache.layered_key(f"payouts:withdrawals:{payee}:{session}:{language}:{minimum}:{digest}")


def _session_user_id(request) -> int | None:
    """The user id the session names, not yet vouched for (django.contrib.auth does that)."""
    try:
        return int(request.session.get(SESSION_KEY))
    except (TypeError, ValueError):
        return None


def _layered(request, shared: tuple, state: selectors.WithdrawalPageState) -> str:
    """The visitor's page: the promoter menu and the wallet filled in (plain values, so each distinct
    set renders once per process), then the top bar, messages and CSRF token (catalog_cache)."""
    nav = ""
    if state.nav is not None:
        pk, status, role, owner_id, agency_name = state.nav
        agency = NavAgency(owner_id, agency_name) if agency_name is not None else None
        promoter = NavPromoter(pk=pk, user_id=state.user_id, status=status, role=role, agency=agency)
        nav = catalog_cache.fragment("affiliates/_nav.html", {"promoter": promoter})
    wallet = catalog_cache.fragment("payouts/_wallet.html", state.wallet)
    return catalog_cache.personalize(request, shared, parts={"promoter_nav": nav, "wallet": wallet})


def _shared_context(request, state: selectors.WithdrawalPageState, payee: str, form: WithdrawalForm) -> dict:
    withdrawals = selectors.withdrawals_of_payee(**{f"{payee}_id": state.payee_id})
    return {
        "is_agency": payee == "agency",
        "title": state.title,
        "form": form,
        "page": Paginator(withdrawals, 20).get_page(request.GET.get("page")),
        "min_fen": settings.WITHDRAWAL_MIN_FEN,
    }


def _withdrawals_page(request, *, payee: str, ask, back: str):
    """The withdrawal page of one payee ("promoter" or "agency"); `ask(amount_fen)` requests.

    A warm view is one Redis round trip (the shared part and the session, in one MGET) and two
    statements: the page's state (payee, menu, wallet, withdrawals' fingerprint) for the user the
    session names, then the user and the top bar's figures together (catalog_cache.personalize,
    which has django.contrib.auth vouch for the session as always). Nothing is shown before the user
    is vouched for and is that payee; a POST is checked by the service under the payee's lock."""
    session_key = getattr(request.session, "session_key", None)
    key = None
    if request.method == "GET" and session_key:
        key = page_key(payee=payee, session_key=session_key, params=request.GET, language=get_language())
    found = catalog_cache.session_get_many(request, [key] if key else [])
    user_id = _session_user_id(request)
    state = selectors.withdrawal_page_state(user_id=user_id, payee=payee) if user_id is not None else None
    entry = found.get(key) if key else None
    body = None
    if (
        state is not None
        and state.allowed
        and state.listed is not None
        and isinstance(entry, tuple)
        and entry[:4] == (state.user_id, state.payee_id, state.title, state.listed)
    ):
        body = _layered(request, entry[4], state)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    if state is None or state.user_id != request.user.pk:  # signed in some other way than this session
        state = selectors.withdrawal_page_state(user_id=request.user.pk, payee=payee)
        body = None
    if state is None or not state.allowed:
        raise Http404
    if body is not None:
        return HttpResponse(body)

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
        # Shown again with its errors, built for this request, with the wallet as it is now.
        status = 400
        state = selectors.withdrawal_page_state(user_id=request.user.pk, payee=payee) or state
    shared = catalog_cache.split_page(
        catalog_cache.shared_render(request, TEMPLATE, _shared_context(request, state, payee, form))
    )
    if key and state.listed is not None and not form.is_bound:
        catalog_cache.shared_set(key, (state.user_id, state.payee_id, state.title, state.listed, shared))
    return HttpResponse(_layered(request, shared, state), status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def withdrawals(request):
    """A promoter's withdrawals (approved promoters only)."""
    return _withdrawals_page(
        request,
        payee="promoter",
        ask=lambda amount_fen: services.withdrawal_request(user=request.user, amount_fen=amount_fen),
        back="payouts:withdrawals",
    )


@require_http_methods(["GET", "HEAD", "POST"])
def agency_withdrawals(request):
    """The agency's owner withdraws its settled service fees (to their own WeChat balance)."""
    return _withdrawals_page(
        request,
        payee="agency",
        ask=lambda amount_fen: services.agency_withdrawal_request(user=request.user, amount_fen=amount_fen),
        back="payouts:agency-withdrawals",
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
