"""The few differences between PostgreSQL (production, tests) and SQLite (the zero-setup local demo)
in the affiliates app's hand-written SQL."""

from django.db import connection


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def cast(expression: str, pg_type: str) -> str:
    """A typed expression on PostgreSQL; SQLite keeps values as they come."""
    return f"CAST({expression} AS {pg_type})" if is_postgres() else expression


def db_datetime(value):
    """A datetime parameter as the database stores it."""
    return connection.ops.adapt_datetimefield_value(value)
