"""Domain errors and the one place where they become HTTP answers.

Services raise a subclass of DomainError; the API handler below turns it into a 400 (or the status
the error names) with field messages, and pages show it on the form through `form_error_from`.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A rule of the shop refused the request. Nothing was changed."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_message = _("The request was refused.")

    def __init__(self, message: str | None = None, *, field: str | None = None):
        self.message = message or self.default_message
        self.field = field
        super().__init__(self.message)

    def field_messages(self) -> dict[str | None, list[str]]:
        """Messages by form field (None: the form as a whole). One error names one field; an error
        about several fields overrides this."""
        return {self.field: [str(self.message)]}

    def as_dict(self) -> dict:
        # Messages are often lazy translations: render them now, in the language of this request.
        key = self.field or "detail"
        message = str(self.message)
        body = {key: [message] if self.field else message, "code": self.code}
        return body


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = _("Not found.")


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"
    default_message = _("You do not have permission to do this.")


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            data = {
                field: [str(m) for e in errors for m in e.messages]
                for field, errors in exc.error_dict.items()
            }
        else:
            data = {"detail": [str(m) for m in exc.messages]}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        return Response({"detail": gettext("Not found.")}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"detail": gettext("Permission denied.")}, status=status.HTTP_403_FORBIDDEN)
    return exception_handler(exc, context)


def form_error_from(form, error: DomainError) -> None:
    """Show a domain error on a Django form: each message on its field when the form has one, else
    on the form."""
    fields = getattr(form, "fields", {})
    for field, messages in error.field_messages().items():
        for message in messages:
            form.add_error(field if field in fields else None, message)
