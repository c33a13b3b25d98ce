"""The outbox for operators: what is waiting, overdue or failing, and "retry now". Read-only
otherwise: a message is written only by the change that caused it and marked done by its delivery,
so nobody edits, adds or deletes one here (a done message is never run again). Merchants never see it.

The list costs the same at any size (config/admin_lists.py): newest first by primary key, counts
stopping at 10,000, and the "overdue" and "failing" filters answered by the index of unfinished
messages (`outbox_due_idx`).
"""

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.admin_lists import ConstantTimeListMixin
from outbox.models import Message
from outbox.services import outbox_retry


class MessageStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("overdue", _("overdue")),
            ("failing", _("failing")),
            ("waiting", _("waiting")),
            ("done", _("done")),
        ]

    def queryset(self, request, queryset):
        unfinished = queryset.filter(done_at__isnull=True)
        if self.value() == "overdue":
            return unfinished.filter(due_at__lt=timezone.now())
        if self.value() == "failing":
            return unfinished.filter(attempts__gt=0)
        if self.value() == "waiting":
            return unfinished
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(Message)
class MessageAdmin(ConstantTimeListMixin, admin.ModelAdmin):
    list_display = ["id", "handler", "state", "attempts", "created_at", "due_at", "done_at", "error"]
    list_filter = [MessageStateFilter]
    ordering = ["-pk"]
    search_fields = ["handler"]
    exact_search_fields = ("handler",)
    actions = ["retry_now"]
    fields = ["handler", "payload", "state", "attempts", "created_at", "due_at", "done_at", "last_error"]
    readonly_fields = fields

    # Operators only, and read-only: the one change allowed is the retry action.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # Django offers actions only with some change right; ours is the operator's retry.
        actions = super().get_actions(request)
        return actions if self.has_view_permission(request) else {}

    @admin.display(description=_("state"))
    def state(self, message):
        if message.done_at:
            return _("done")
        if message.due_at < timezone.now():
            return format_html('<strong style="color:#c0392b">{}</strong>', _("overdue"))
        if message.attempts:
            return format_html('<strong style="color:#c0392b">{}</strong>', _("failing"))
        return _("waiting")

    @admin.display(description=_("last error"))
    def error(self, message):
        return message.last_error[:120]

    @admin.action(description=_("Retry now (messages not yet done)"))
    def retry_now(self, request, queryset):
        unfinished = queryset.filter(Q(done_at__isnull=True))
        count = outbox_retry(message_ids=unfinished.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext(
                "%(n)d message sent to the workers again.", "%(n)d messages sent to the workers again.", count
            )
            % {"n": count},
            messages.SUCCESS if count else messages.WARNING,
        )
