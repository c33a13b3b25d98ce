"""Celery tasks of the accounts app: thin wrappers that call services."""

import smtplib

from celery import shared_task
from django.db import DatabaseError

from accounts import services


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError, DatabaseError),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def deliver_notification(
    *, user_id: int, key: str, kind: str, title: str, body: str = "", url: str = ""
) -> int | None:
    """Store one notification in the inbox and e-mail it, once per key (see notification_deliver)."""
    notification = services.notification_deliver(
        user_id=user_id, key=key, kind=kind, title=title, body=body, url=url
    )
    return notification.pk if notification else None
