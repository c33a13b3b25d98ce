"""The two front doors of `/t/<code>`; both go through affiliates.clicks.click_take.

- ClickDispatch wraps the WSGI application (config/wsgi.py: what gunicorn serves). It answers a click
  before Django's request handling starts: no request object, no request signals, no middleware, no
  response object; the redirect is written as a WSGI status and header list (those were half of
  the click's own Python; the whole click, its database call included, now costs this process less
  CPU than the bare view does). It keeps what Django's stack would have given this redirect: a plain-http
  request when SECURE_SSL_REDIRECT is on goes to Django (SecurityMiddleware sends it to https first),
  the SecurityMiddleware headers (HSTS on https, nosniff, Referrer-Policy, Cross-Origin-Opener-Policy)
  are added from the same settings, and the database connection is checked and recycled as
  Django's request_started would (CONN_MAX_AGE, a connection left broken). Whatever is not a
  redirect (unknown or disabled code, the database away, a malformed code, another method) is
  handed to Django, with the outcome in the environ so the click is not taken twice.
- ClickMiddleware, early in settings.MIDDLEWARE, answers clicks that arrive through Django's own
  handler (ASGI, the test client) and renders the friendly page for those ClickDispatch handed on.
"""

import logging

from django.conf import settings
from django.core.handlers.wsgi import get_script_name
from django.db import DEFAULT_DB_ALIAS, connections
from django.http.cookie import parse_cookie

from affiliates.clicks import (
    COOKIE_NAME,
    click_page,
    click_take,
    click_view,
    code_is_plausible,
    cookie_header,
)

logger = logging.getLogger(__name__)

PREFIX = "/t/"
OUTCOME_KEY = "affiliates.click_outcome"  # an environ key: no HTTP header can set it (those are HTTP_*)


class ClickMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(PREFIX) and request.method in ("GET", "HEAD"):
            outcome = request.META.get(OUTCOME_KEY)
            if outcome:
                return click_page(request, outcome)
            return click_view(request, path[len(PREFIX) :].strip("/"))
        return self.get_response(request)


def request_is_secure(environ: dict) -> bool:
    """HttpRequest.is_secure() from the environ: the proxy's header when configured and present,
    else the WSGI scheme."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def security_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers django.middleware.security.SecurityMiddleware adds to a response."""
    headers = []
    if settings.SECURE_HSTS_SECONDS and secure:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        parts = [part.strip() for part in policy.split(",")] if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(parts)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers


class ClickDispatch:
    """WSGI middleware: `application = ClickDispatch(get_wsgi_application())`."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX) or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.application(environ, start_response)
        secure = request_is_secure(environ)
        code = path[len(PREFIX) :].strip("/")
        if (settings.SECURE_SSL_REDIRECT and not secure) or not code_is_plausible(code):
            return self.application(environ, start_response)  # Django redirects to https / says gone
        try:
            database = connections[DEFAULT_DB_ALIAS]
            if not database.in_atomic_block:
                database.close_if_unusable_or_obsolete()  # what request_started does
            cookies = parse_cookie(environ["HTTP_COOKIE"]) if environ.get("HTTP_COOKIE") else {}
            click = click_take(
                code=code,
                cookie=cookies.get(COOKIE_NAME),
                session_key=cookies.get(settings.SESSION_COOKIE_NAME),
            )
        except Exception:
            logger.exception("click on %s failed before it was answered", code)
            environ[OUTCOME_KEY] = "unavailable"
            return self.application(environ, start_response)
        if click.status != "redirect":
            environ[OUTCOME_KEY] = click.status
            return self.application(environ, start_response)
        cookie_secure = settings.SESSION_COOKIE_SECURE
        start_response(
            "302 Found",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", "0"),
                ("Location", get_script_name(environ).rstrip("/") + click.path),
                *security_headers(secure),
                ("Set-Cookie", cookie_header(click.cookie, now=click.at, secure=cookie_secure)),
            ],
        )
        return [b""]
