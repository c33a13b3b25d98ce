"""Our PostgreSQL backend (config/postgres/base.py): a persistent connection the server closed is
replaced before the request uses it, a live one is checked without a query, and the signed-in
visitor's statement is prepared once per connection."""

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def other_connection():
    database = settings.DATABASES["default"]
    return psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        dbname=database["NAME"],
        autocommit=True,
    )


def last_statement(pid: int) -> str:
    with other_connection() as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


@pytest.fixture
def health_checked():
    """This thread's connection as a web request sees it: persistent, checked at first use."""
    connection.ensure_connection()
    saved = connection.health_check_enabled, connection.health_check_done
    connection.health_check_enabled, connection.health_check_done = True, False
    yield connection
    connection.health_check_enabled, connection.health_check_done = saved


def test_a_live_idle_connection_passes_without_a_round_trip(health_checked):
    with health_checked.cursor() as cursor:
        cursor.execute("SELECT 'the last statement before the check'")
    pid = health_checked.connection.info.backend_pid
    health_checked.health_check_done = False
    health_checked.close_if_health_check_failed()
    assert health_checked.connection is not None  # kept
    assert last_statement(pid) == "SELECT 'the last statement before the check'"  # no SELECT 1 ran


def test_a_connection_the_server_ended_is_replaced_and_the_request_answers(health_checked, shopper):
    old_pid = health_checked.connection.info.backend_pid
    with other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    time.sleep(0.2)  # the server's goodbye reaches the socket
    health_checked.health_check_done = False
    health_checked.close_if_health_check_failed()
    assert health_checked.connection is None  # dropped, not used
    client = Client()
    client.force_login(shopper)
    assert client.get("/accounts/").status_code == 200
    assert connection.connection.info.backend_pid != old_pid


def test_a_connection_inside_a_transaction_is_checked_with_a_query(health_checked):
    """Only an idle connection's socket says enough; anything else is asked the old way."""
    with health_checked.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT 'inside'")
    pid = health_checked.connection.info.backend_pid
    try:
        assert health_checked.is_usable()
        assert last_statement(pid) == "SELECT 1"
    finally:
        with health_checked.cursor() as cursor:
            cursor.execute("ROLLBACK")


def test_the_signed_in_visitors_statement_is_prepared_once_per_connection(shopper):
    """The user-and-figures statement every signed-in page runs is planned once per connection
    (config.postgres.base.prepared_cursor), and still counted as a query like any other."""
    from django.test.utils import CaptureQueriesContext

    from shop.selectors.visitor import user_and_facts

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            user, facts = user_and_facts(user_id=shopper.pk, liked_among=[1, 2], bought_among=[3])
    assert user.pk == shopper.pk and facts.cart_count == 0 and len(queries) == 3
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ['PREPARE weshop_% AS SELECT "accounts_user"."id"%'],
        )
        assert cursor.fetchall() == [(3,)]  # one statement, run three times
        cursor.execute("DEALLOCATE ALL")  # what a pooler's reset does: prepared again, not an error
    assert user_and_facts(user_id=shopper.pk)[0].pk == shopper.pk
