"""Error pages that know about the API: a URL under /api/ that matches no route answers in JSON,
like every other API refusal, instead of with the HTML "not found" page (templates/404.html, the
shop's own page)."""

from django.conf import settings
from django.http import HttpResponseNotFound, JsonResponse
from django.utils.translation import gettext
from django.views.defaults import page_not_found


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": gettext("Not found.")}, status=404)
    return page_not_found(request, exception)


class ShopNotFoundPageMiddleware:
    """With DEBUG on (the local demo of `make run`), Django answers a wrong URL with its debug page,
    which lists every URL pattern: a shopper trying the demo should see the shop's own 404 page
    instead. Only Django's own HTML "not found" answer is replaced (API answers, JSON and pages that
    chose their 404 content are left alone). Does nothing when DEBUG is off, where Django already
    uses `handler404`. `?debug404=1` keeps the debug page for a developer who wants it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            settings.DEBUG
            and type(response) is HttpResponseNotFound
            and response.get("Content-Type", "").startswith("text/html")
            and "debug404" not in request.GET
        ):
            return not_found(request, None)
        return response
