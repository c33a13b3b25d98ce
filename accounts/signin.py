"""Sign-in throttling: the project's side of django-axes.

Every sign-in (the page, POST /api/v1/auth/token/, the admin) goes through django.contrib.auth's
authenticate() with the Django request, so axes counts them all in one place, in PostgreSQL
(axes' database handler): every web instance shares the count, and it keeps counting when Redis is
down. A count that cannot be written fails the request; it never lets the guess through unchecked.

Two limits, both over the cool-off window (AXES_COOLOFF_TIME after the last counted failure):
- per account (the normalised phone number): AXES_FAILURE_LIMIT failures, from any address;
- per client address: SIGNIN_ADDRESS_FAILURE_LIMIT failures, for any accounts. It is higher because
  many honest people can share one address (mobile carriers' NAT).
A lock only ever stops the locked phone number or address; nobody else's sign-in waits for it.
"""

import ipaddress
import logging
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.http import HttpResponse
from django.utils.translation import gettext_noop, ngettext

from accounts.validators import normalize_phone

log = logging.getLogger("weshop.signin")


class SignInAttemptHandler(AxesDatabaseHandler):
    """axes' database handler with a separate, higher limit for a client address than for an account."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Failures that count against the account limit. A client address past its own limit counts
        as the account limit reached, so is_locked() and the lock-on-failure check see it too."""
        by_account, by_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if by_address >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT:
            return max(by_account, settings.AXES_FAILURE_LIMIT)
        return by_account

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """After a successful sign-in (AXES_RESET_ON_SUCCESS), forget that account's failures only.
        axes would also forget the client address's, so one good account of an attacker's would wipe
        the count of every account guessed at from the same address."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _deleted = AccessAttempt.objects.filter(username=username).delete()
        return count

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is not None and getattr(request, "axes_locked_out", False):
            log.warning(
                "sign-in locked: address %s, path %s", request.axes_ip_address, request.axes_path_info
            )


def signin_username(request, credentials: dict | None) -> str | None:
    """The account a sign-in names, as stored: the page and admin send `username`, the API `phone`."""
    raw = None
    if credentials:
        raw = credentials.get("phone") or credentials.get("username")
    if raw is None and request is not None:
        data = getattr(request, "POST", {})
        raw = data.get("phone") or data.get("username")
    return normalize_phone(str(raw)) if raw else None


def client_ip_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind our own reverse proxy, the entry of
    CLIENT_IP_HEADER that the proxy wrote (CLIENT_IP_TRUSTED_PROXIES entries from the right; anything
    further left was written by the client and is not trusted)."""
    remote = request.META.get("REMOTE_ADDR") or None
    header = settings.CLIENT_IP_HEADER
    if not header:
        return remote
    key = "HTTP_" + header.upper().replace("-", "_")
    entries = [entry.strip() for entry in request.META.get(key, "").split(",") if entry.strip()]
    hops = settings.CLIENT_IP_TRUSTED_PROXIES
    if hops < 1 or len(entries) < hops:
        return remote
    candidate = entries[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_minutes() -> int:
    cool_off = get_cool_off() or timedelta(0)
    return max(1, int(cool_off.total_seconds() // 60))


def lockout_message() -> str:
    minutes = lockout_minutes()
    return ngettext(
        "Too many failed sign-ins. Signing in is locked for %(minutes)d minute; try again later, "
        "or ask the platform's support to unlock it.",
        "Too many failed sign-ins. Signing in is locked for %(minutes)d minutes; try again later, "
        "or ask the platform's support to unlock it.",
        minutes,
    ) % {"minutes": minutes}


class LockoutAwareAuthenticationMixin:
    """For AuthenticationForm subclasses: when the sign-in guard refused, say so instead of
    'wrong password' (the middleware then answers 429)."""

    def get_invalid_login_error(self):
        if getattr(self.request, "axes_locked_out", False):
            return ValidationError(lockout_message(), code="locked_out")
        return super().get_invalid_login_error()


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the edge's own answer (the form with its message, or the API's JSON),
    as 429 with Retry-After. Only a sign-in edge that forgot to explain gets the bare message."""
    response = original_response if original_response is not None else HttpResponse(lockout_message())
    response.status_code = 429
    response.reason_phrase = "Too Many Requests"
    response["Retry-After"] = str(lockout_minutes() * 60)
    return response


# django-axes ships no Chinese. The words its admin screens show operators are listed here so that
# makemessages puts them in our catalog, whose translations then apply to axes' screens too.
AXES_ADMIN_WORDS = [
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Attempt Time"),
    gettext_noop("Failed Logins"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("HTTP Accept"),
    gettext_noop("IP Address"),
    gettext_noop("User Agent"),
    gettext_noop("Username"),
    gettext_noop("Path"),
    gettext_noop("Locked Out"),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("Expires At"),
    gettext_noop("Not set"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Clean up expired attempts"),
]
