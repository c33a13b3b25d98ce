import threading

import pytest
from django.core import mail
from django.db import connection

from accounts import selectors, services
from accounts.errors import NotificationNotFound
from accounts.models import Notification
from outbox.models import Message
from outbox.services import outbox_deliver
from tests.factories import NotificationFactory, UserFactory

pytestmark = pytest.mark.django_db

DEAD_SMTP = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}


def _deliver(user, key="order-paid:1", **extra):
    return services.notification_deliver(
        user_id=user.pk,
        key=key,
        kind="order_paid",
        title="订单已支付",
        body="正文",
        url="/orders/1/",
        **extra,
    )


def test_deliver_stores_once_and_emails_once(mailoutbox, settings):
    settings.SITE_URL = "https://shop.example.com"
    user = UserFactory(email="buyer@example.com")
    first = _deliver(user)
    second = _deliver(user)
    assert first.pk == second.pk
    assert Notification.objects.filter(key="order-paid:1").count() == 1
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["buyer@example.com"]
    assert mailoutbox[0].subject == "订单已支付"
    assert "https://shop.example.com/orders/1/" in mailoutbox[0].body
    assert second.emailed_at is not None


def test_user_without_email_gets_only_the_inbox_row(mailoutbox):
    user = UserFactory(email="")
    notification = _deliver(user)
    assert notification.emailed_at is None
    assert mailoutbox == []
    assert selectors.notification_unread_count(user=user) == 1


def test_deleted_user_is_dropped_quietly():
    assert services.notification_deliver(user_id=987654, key="k", kind="x", title="t") is None
    assert not Notification.objects.exists()


def test_smtp_failure_raises_keeps_inbox_row_and_retry_sends_only_the_email(settings, mailoutbox):
    user = UserFactory(email="buyer@example.com")
    settings.EMAIL_BACKEND = DEAD_SMTP["EMAIL_BACKEND"]
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    with pytest.raises(OSError):
        _deliver(user)
    row = Notification.objects.get(key="order-paid:1")
    assert row.emailed_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    again = _deliver(user)
    assert again.pk == row.pk
    assert again.emailed_at is not None
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_smtp_failure_keeps_the_message_due_with_backoff_and_the_retry_sends_only_the_email(settings):
    user = UserFactory(email="buyer@example.com")
    services.notification_send(user_id=user.pk, key="retry:1", kind="x", title="重试")
    message = Message.objects.get(payload__key="retry:1")
    settings.EMAIL_BACKEND = DEAD_SMTP["EMAIL_BACKEND"]
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    assert outbox_deliver(message_id=message.pk) is False
    message.refresh_from_db()
    assert message.done_at is None and message.attempts == 1 and "Error" in message.last_error
    assert message.due_at > message.created_at  # due again after a backoff, for the sweep
    assert Notification.objects.filter(key="retry:1", emailed_at__isnull=True).count() == 1

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox_deliver(message_id=message.pk) is True
    assert outbox_deliver(message_id=message.pk) is False  # done: a second delivery changes nothing
    # Every attempt re-tried only the e-mail: still one inbox row, one e-mail.
    assert Notification.objects.filter(key="retry:1").count() == 1
    assert len(mail.outbox) == 1


def test_notification_send_is_recorded_in_the_transaction_and_relayed_after_commit(
    django_capture_on_commit_callbacks,
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.notification_send(user_id=user.pk, key="k:1", kind="x", title="t")
    assert len(callbacks) == 1
    assert Message.objects.filter(payload__key="k:1", done_at__isnull=True).count() == 1
    assert not Notification.objects.exists()  # nothing stored until a worker delivers it


def test_mark_read_keeps_first_time_and_others_are_not_found():
    user, other = UserFactory(), UserFactory()
    notification = NotificationFactory(user=user)
    first = services.notification_mark_read(user=user, notification_id=notification.pk).read_at
    second = services.notification_mark_read(user=user, notification_id=notification.pk).read_at
    assert first is not None and first == second
    with pytest.raises(NotificationNotFound):
        services.notification_mark_read(user=other, notification_id=notification.pk)


def test_mark_all_read_touches_only_own_unread():
    user, other = UserFactory(), UserFactory()
    NotificationFactory.create_batch(3, user=user)
    NotificationFactory(user=other)
    assert services.notification_mark_all_read(user=user) == 3
    assert services.notification_mark_all_read(user=user) == 0
    assert selectors.notification_unread_count(user=user) == 0
    assert selectors.notification_unread_count(user=other) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_key_store_one_row_and_send_one_email(mailoutbox):
    user = UserFactory(email="buyer@example.com")
    workers = 6
    barrier = threading.Barrier(workers)
    errors: list[Exception] = []

    def deliver():
        try:
            barrier.wait()
            _deliver(user, key="race:1")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Notification.objects.filter(key="race:1").count() == 1
    assert len(mailoutbox) == 1
    assert Notification.objects.get(key="race:1").emailed_at is not None
