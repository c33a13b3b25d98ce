"""OpenAPI schema generation: the error answers every operation can give, documented in one place.

drf-spectacular documents the success answer of each view. The refusals come from a few shared
places (DRF's validation and permission checks, `api_exception_handler` for DomainErrors, the
throttles, the JSON 404 for unknown API paths), so they are added here by rule instead of being
repeated on every view: a client reading the schema learns every status code it may receive.
"""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance, is_serializer
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@extend_schema_field(
    {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
)
class _DetailField(serializers.Field):
    pass


class ApiErrorSerializer(serializers.Serializer):
    """A refusal. `detail` says why; invalid fields appear as extra keys, each with a list of
    messages (or, for a list input, a list of per-item objects of the same shape)."""

    detail = _DetailField(required=False)
    code = serializers.CharField(required=False)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ApiErrorSerializer, description=description)


def _takes_files(serializer) -> bool:
    serializer = force_instance(serializer)
    if not is_serializer(serializer):
        return False
    for field in serializer.fields.values():
        inner = getattr(field, "child", field)
        if isinstance(inner, serializers.FileField) or (is_serializer(inner) and _takes_files(inner)):
            return True
    return False


def _may_be_blank(field) -> bool:
    """An input field that allows "", or a read-only field backed by a model field with blank=True."""
    if getattr(field, "allow_blank", False):
        return True
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    if not field.read_only or model is None:
        return False
    try:
        model_field = model._meta.get_field(field.source)
    except FieldDoesNotExist:  # a property or a dotted source: not a plain column
        return False
    return bool(getattr(model_field, "blank", False)) and isinstance(field, serializers.CharField)


class AutoSchema(SpectacularAutoSchema):
    def map_parsers(self):
        """Document one request encoding: multipart where files are uploaded, JSON everywhere else.
        The views still accept form posts, but nested bodies (lists of items) only work as JSON."""
        media_types = super().map_parsers()
        wanted = "multipart/form-data" if _takes_files(self.get_request_serializer()) else "application/json"
        return [wanted] if wanted in media_types else media_types

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # An optional e-mail/URL left empty is "", which is not a valid "email"/"uri": say so.
        if isinstance(schema, dict) and "format" in schema and _may_be_blank(field):
            typed = {"type": schema.pop("type", "string"), "format": schema.pop("format")}
            schema["anyOf"] = [typed, {"type": "string", "maxLength": 0}]
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_answers():
            if code not in responses:
                responses[code] = self._get_response_for_code(_error(description), code, direction=direction)
        return responses

    def _error_answers(self):
        view = self.view
        has_path_args = "{" in self.path
        is_write = self.method in WRITE_METHODS
        yield "400", "Bad input (field messages) or a rule of the shop refused the request"
        if not all(isinstance(p, AllowAny) for p in view.get_permissions()):
            yield "401", "Not signed in (token missing or invalid)"
            yield "403", "Signed in, but not allowed (for example: not merchant staff)"
        if has_path_args or is_write or self._is_list_view():
            yield "404", "Not found, or not yours (for a list: a page past the end)"
        if is_write:
            yield "409", "The current state does not allow this"
        if view.get_throttles():
            yield "429", "Too many requests"
