"""Error pages that know about the API: a URL under /api/ that matches no route answers in JSON,
like every other API refusal, instead of with the HTML "not found" page."""

from django.http import JsonResponse
from django.utils.translation import gettext
from django.views.defaults import page_not_found


def not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": gettext("Not found.")}, status=404)
    return page_not_found(request, exception)
