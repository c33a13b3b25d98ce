"""The admin list helpers (capped counts, exact indexed searches, cheap rows) live in
config/admin_lists.py so that every app's admin can use them; the shop's admin imports them from here."""

from config.admin_lists import (  # noqa: F401
    COUNT_CAP,
    DJANGO_CHECKBOX_LABEL,
    CappedCountPaginator,
    ConstantTimeListMixin,
    ExactSearchMixin,
    FastRowsChangeList,
    FastRowsMixin,
)
