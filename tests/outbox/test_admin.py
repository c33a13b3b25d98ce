"""The outbox's admin page: operators see what is overdue or failing and retry it; nobody edits,
adds or deletes a message there, and merchants never see it."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outbox.models import Message
from outbox.services import outbox_handler
from tests.shop.order_factories import celery_eager  # noqa: F401

pytestmark = pytest.mark.django_db

RUNS: list[int] = []


@outbox_handler(atomic=True)
def record_run(*, n: int) -> None:
    RUNS.append(n)


HANDLER = f"{__name__}.record_run"


@pytest.fixture
def rows():
    RUNS.clear()
    now = timezone.now()

    def message(n, due_at, **fields):
        return Message.objects.create(handler=HANDLER, payload={"n": n}, due_at=due_at, **fields)

    return {
        "done": message(1, now, done_at=now, attempts=1),
        "overdue": message(2, now - timedelta(hours=1)),
        "failing": message(3, now + timedelta(minutes=30), attempts=3, last_error="RuntimeError: down"),
        "waiting": message(4, now + timedelta(minutes=1)),
    }


def _listed(client, **params) -> set[int]:
    response = client.get(reverse("admin:outbox_message_changelist"), params)
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def test_operators_see_overdue_and_failing_messages(client, operator, rows):
    client.force_login(operator)
    assert _listed(client) == {row.pk for row in rows.values()}
    assert _listed(client, state="overdue") == {rows["overdue"].pk}
    assert _listed(client, state="failing") == {rows["failing"].pk}
    assert _listed(client, state="done") == {rows["done"].pk}
    assert _listed(client, state="waiting") == {rows["overdue"].pk, rows["failing"].pk, rows["waiting"].pk}
    page = client.get(reverse("admin:outbox_message_changelist")).content.decode()
    assert "RuntimeError: down" in page
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("admin:outbox_message_changelist"))
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"] and "outbox_message" in q["sql"]]
    assert counts and all("LIMIT" in sql for sql in counts)  # never a full count


@pytest.mark.usefixtures("celery_eager")
def test_retry_now_delivers_unfinished_messages_once_and_never_reruns_done_ones(
    client, operator, rows, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    chosen = [rows["done"].pk, rows["failing"].pk, rows["overdue"].pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:outbox_message_changelist"),
            {"action": "retry_now", ACTION_CHECKBOX_NAME: chosen},
        )
    assert response.status_code == 302
    assert sorted(RUNS) == [2, 3]  # the done one did not run again
    for name in ("failing", "overdue"):
        rows[name].refresh_from_db()
        assert rows[name].done_at is not None
    rows["waiting"].refresh_from_db()
    assert rows["waiting"].done_at is None


def test_the_page_is_read_only_and_for_operators_only(client, operator, shop, rows):
    client.force_login(operator)
    change = reverse("admin:outbox_message_change", args=[rows["failing"].pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    before = Message.objects.get(pk=rows["failing"].pk).handler
    client.post(change, {"handler": "x", "payload": "{}"})
    assert Message.objects.get(pk=rows["failing"].pk).handler == before
    assert client.get(reverse("admin:outbox_message_add")).status_code == 403
    assert client.get(reverse("admin:outbox_message_delete", args=[rows["done"].pk])).status_code == 403

    client.force_login(shop.owner)  # a merchant
    assert client.get(reverse("admin:outbox_message_changelist")).status_code in (302, 403)
    assert "outbox" not in client.get(reverse("admin:index")).content.decode()
