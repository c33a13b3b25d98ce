"""Serve `/t/<code>` before sessions, locale, CSRF and authentication run: the click path needs
none of them (it reads two cookies) and must stay nearly as fast as a bare view."""

from affiliates.clicks import click_view

PREFIX = "/t/"


class ClickMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(PREFIX) and request.method in ("GET", "HEAD"):
            return click_view(request, path[len(PREFIX) :].strip("/"))
        return self.get_response(request)
