import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Mainland China mobile numbers: 11 digits starting 13-19. A +86 / 86 prefix and spaces or dashes are
# tolerated on input and removed by normalize_phone.
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    phone = re.sub(r"[\s-]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    return phone


def validate_cn_mobile(value: str) -> None:
    if not _MOBILE_RE.match(normalize_phone(value)):
        raise ValidationError(
            _("Enter a valid mainland China mobile number (11 digits starting with 1)."), code="invalid_phone"
        )
