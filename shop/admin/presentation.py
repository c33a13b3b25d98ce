"""How the back office shows things to people: money in yuan, record pages without a Save button.

Amounts are kept in fen; an admin column or field shows them through `yuan_display`. Times need
nothing here: the admin renders every datetime in the current time zone, the shop's (TIME_ZONE).
"""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _

from shop.templatetags.money import format_fen


def yuan_display(field: str, description, *, ordering: bool = True):
    """An admin display method showing the fen field `field` as ¥12.34."""

    def show(self, obj):
        return format_fen(getattr(obj, field))

    show.__name__ = field.removesuffix("_fen") + "_yuan"
    return admin.display(description=description, ordering=field if ordering else None)(show)


class RecordPageMixin:
    """A record changed only through its own buttons (ship, refund, approve...), which call services.

    The page shows the record without Save or Delete buttons, and a POST to it saves nothing: it
    would otherwise write the row back as loaded, over a change made meanwhile.
    """

    record_page_context = {
        "show_save": False,
        "show_save_and_continue": False,
        "show_save_and_add_another": False,
        "show_save_as_new": False,
        "show_delete": False,
        "show_delete_link": False,
    }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            return HttpResponseRedirect(request.get_full_path())
        context = {"title": _("View %s") % self.opts.verbose_name, **self.record_page_context}
        return super().change_view(
            request, object_id, form_url, extra_context={**context, **(extra_context or {})}
        )
