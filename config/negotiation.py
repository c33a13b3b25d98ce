"""The API's content negotiation (REST_FRAMEWORK's DEFAULT_CONTENT_NEGOTIATION_CLASS): DRF's result in
fewer steps.

Nearly every caller of the API (the catalog's product calls, a checkout) asks for JSON in the
plainest way (no Accept header, `*/*` or `application/json`, no `?format=`): DRF's negotiation then
parses the header into media types and matches them against every renderer, to pick the first
renderer, JSON, as `application/json`. That was a tenth of a cached product answer's own CPU.
`JsonFirstNegotiation` gives that answer at once for exactly those requests and hands every other
one to DRF's negotiation.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer

PLAIN_ACCEPTS = frozenset({None, "*/*", "application/json"})


class JsonFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and renderers
            and type(renderers[0]) is JSONRenderer
            and request.META.get("HTTP_ACCEPT") in PLAIN_ACCEPTS
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], JSONRenderer.media_type  # what DRF's negotiation picks for these
        return super().select_renderer(request, renderers, format_suffix)
