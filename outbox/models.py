"""Work that must follow a commit, written in the same transaction as the change that causes it.

A row names a handler (the dotted path of a function marked with `outbox.services.outbox_handler`)
and the keyword arguments to call it with. It is relayed to Celery when its transaction commits and
again by the beat sweep whenever it is due and not yet done, so a broker outage only delays it and a
Redis restart (which keeps nothing) loses nothing. See outbox/services.py.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Message(models.Model):
    handler = models.CharField(max_length=200, verbose_name=_("handler"))
    payload = models.JSONField(default=dict, verbose_name=_("payload"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    # When the sweep relays it (again) if it is not done by then: a grace period after the commit's
    # own relay, then backoff after failures.
    due_at = models.DateTimeField(verbose_name=_("due"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    done_at = models.DateTimeField(null=True, blank=True, verbose_name=_("done"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        indexes = [
            # The sweep's only question: which unfinished messages are due? Done rows stay out of it.
            models.Index(fields=["due_at"], condition=Q(done_at__isnull=True), name="outbox_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} #{self.pk}"
