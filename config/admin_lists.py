"""Admin change lists that cost the same at a hundred rows and at a million (every app's admin uses
these; `shop.admin.lists` offers the same names).

- `CappedCountPaginator` counts at most `COUNT_CAP` + 1 rows (a COUNT over a LIMITed subquery), so
  no page ever counts a large table; past the cap the list says "10,000+" and offers the pages up to it
  (filters and exact searches narrow it further).
- `ExactSearchMixin` answers a search with exact, indexed comparisons (`number = %s`, `phone = %s`)
  instead of Django's `UPPER(x) LIKE %s%` over every row.
- `ConstantTimeListMixin` puts both together and turns off the full, unfiltered count.
- `FastRowsMixin` renders rows without a template per cell (part of ConstantTimeListMixin).
Date filters are the theme's date-range pickers (`field__gte` / `field__lte`), which the
(shop, created_at) and (shop, paid_at) indexes answer; no list uses `date_hierarchy`, whose drill-down
runs DISTINCT DATE_TRUNC over every row.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.admin import helpers
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """A paginator whose count stops at COUNT_CAP + 1: `is_capped` tells the page to show "N+"."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if hasattr(object_list, "query"):
            return object_list.order_by()[: self.cap + 1].count()
        return len(object_list)

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap

    def page(self, number):
        """Pages after the first fetch their rows' ids first, then the rows (a "deferred join"): the
        skipped rows are read from an index alone, not joined and built (page 200 of a million orders:
        85 ms to 17 ms in the database). One query more than page 1, the same at any size."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        object_list = self.object_list
        if not bottom or not hasattr(object_list, "query"):
            return super().page(number)
        ids = list(object_list.values_list("pk", flat=True)[bottom:top])
        # Still the list's queryset and order (a total order: every admin list ends with the pk).
        return self._get_page(object_list.filter(pk__in=ids), number, self)


class ExactSearchMixin:
    """`exact_search_fields`: fields compared with `=` (one indexed lookup each, OR-ed together).
    `phone_search_fields`: compared with the term normalised as a phone number. Terms are searched
    whole, not split into words."""

    exact_search_fields: tuple[str, ...] = ()
    phone_search_fields: tuple[str, ...] = ()
    # The date field a search's few rows are sorted by (newest first). The sort is written so that no
    # index can serve it: otherwise PostgreSQL may walk the date index backwards through a million
    # rows looking for 50 matches, instead of collecting the matches from the search indexes and
    # sorting those (357 ms against 15 ms for a phone with 500 orders among 1,000,000).
    exact_search_sort: str | None = None

    def get_ordering(self, request):
        from django.contrib.admin.views.main import ORDER_VAR, SEARCH_VAR

        term = request.GET.get(SEARCH_VAR, "").strip()
        if term and self.exact_search_sort and ORDER_VAR not in request.GET:
            shifted = ExpressionWrapper(
                F(self.exact_search_sort) + Value(timedelta(0)), output_field=DateTimeField()
            )
            return [shifted.desc(), "-pk"]
        return super().get_ordering(request)

    def get_search_results(self, request, queryset, search_term):
        from accounts.validators import normalize_phone

        term = (search_term or "").strip()
        searches_exactly = (
            self.exact_search_fields
            or self.phone_search_fields
            or type(self).search_related_ids is not ExactSearchMixin.search_related_ids
        )
        if not term or not searches_exactly:
            return super().get_search_results(request, queryset, search_term)
        condition = Q()
        for field in self.exact_search_fields:
            condition |= Q(**{field: term})
        phone = normalize_phone(term)
        phone = phone if len(phone) == 11 and phone.isdigit() else ""
        if phone:
            for field in self.phone_search_fields:
                condition |= Q(**{field: phone})
        for field, values in self.search_related_ids(request, term, phone).items():
            if values:
                condition |= Q(**{f"{field}__in": values})
        return queryset.filter(condition), False

    def search_related_ids(self, request, term: str, phone: str) -> dict[str, list[int]]:
        """`phone` is the term as an 11-digit phone number, or "". Ids found first in another table
        (one indexed query), so the main query stays a union of index scans: a subquery inside an OR
        would make PostgreSQL scan every row."""
        return {}


class FastRowsChangeList(ChangeList):
    """Reverses the change page's URL once per page instead of once per row (50 URL resolutions per
    page otherwise); the pk is quoted into the same URL Django would reverse."""

    _PK_PLACEHOLDER = "0"

    @cached_property
    def _change_url_template(self) -> tuple[str, str]:
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=(self._PK_PLACEHOLDER,),
            current_app=self.model_admin.admin_site.name,
        )
        head, _sep, tail = url.rpartition(f"/{self._PK_PLACEHOLDER}/")
        return f"{head}/", f"/{tail}"

    def url_for_result(self, result):
        head, tail = self._change_url_template
        return f"{head}{quote(getattr(result, self.pk_attname))}{tail}"


# Django admin's own message (its catalogs translate it), passed by name so that our catalogs do not
# collect a copy of it.
DJANGO_CHECKBOX_LABEL = "Select this object for an action - {}"


class FastRowsMixin:
    """Rows of a change list rendered without a template per cell: the action checkbox is written
    directly (Django renders a form widget template for each row, about a third of a 50-row page's
    time) with the same markup, and the change links come from FastRowsChangeList."""

    def get_changelist(self, request, **kwargs):
        return FastRowsChangeList

    def action_checkbox(self, obj):
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_(DJANGO_CHECKBOX_LABEL), str(obj)),
        )


class ConstantTimeListMixin(FastRowsMixin, ExactSearchMixin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
