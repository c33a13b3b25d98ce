"""Who is asking: the user behind a session or an API token, loaded on every signed-in request.

Django's ModelBackend and DRF's TokenAuthentication load the user through the ORM, and building and
compiling that statement was a third of the CPU of a signed-in page whose shared part came from the
cache (and almost half of a cached API answer): measured in-process, see README "Speed". The
loaders here run the same lookups as one statement written once from the models' metadata; the
session backend that uses them is accounts.backends.AccountBackend. Every rule of the originals is
kept (an inactive user is nobody; a session whose password hash no longer matches is signed out by
django.contrib.auth.get_user as before).

DRF imports this module (DEFAULT_AUTHENTICATION_CLASSES) when its views module is first imported,
possibly before the app registry is ready: models are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from config.postgres.base import prepared_cursor

MAX_ID = 2**63 - 1  # the largest BigAutoField value: what the ORM's own lookup would accept


def _fields(model) -> list:
    return list(model._meta.concrete_fields)


def _select_list(model) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    return ", ".join(f"{table}.{connection.ops.quote_name(field.column)}" for field in _fields(model))


def _instance(model, values) -> object:
    return model.from_db(connection.alias, [field.attname for field in _fields(model)], values)


@functools.cache
def _user_sql() -> str:
    user = get_user_model()
    table, key = (connection.ops.quote_name(name) for name in (user._meta.db_table, user._meta.pk.column))
    return f"SELECT {_select_list(user)} FROM {table} WHERE {table}.{key} = %s"


def _token_model():
    from rest_framework.authtoken.models import Token

    return Token


@functools.cache
def _token_sql() -> str:
    Token = _token_model()  # noqa: N806
    user = get_user_model()
    quote = connection.ops.quote_name
    token_table, user_table = quote(Token._meta.db_table), quote(user._meta.db_table)
    return (
        f"SELECT {_select_list(Token)}, {_select_list(user)} FROM {token_table} "
        f"INNER JOIN {user_table} ON {user_table}.{quote(user._meta.pk.column)} = "
        f"{token_table}.{quote(Token._meta.get_field('user').column)} "
        f"WHERE {token_table}.{quote(Token._meta.pk.column)} = %s"
    )


@functools.cache
def user_columns() -> tuple[str, list]:
    """(select list, fields) of the user model: for a statement that loads the user along with
    other figures (shop.selectors.visitor), whose row then becomes a user by `user_from_row`."""
    user = get_user_model()
    return _select_list(user), _fields(user)


def user_from_row(values) -> object:
    return _instance(get_user_model(), values)


# A user some statement of this request already read (see `user_preloaded`).
_preloaded: contextvars.ContextVar = contextvars.ContextVar("preloaded_user", default=None)


@contextlib.contextmanager
def user_preloaded(user):
    """While inside, `user_by_id(user.pk)` answers `user` without a query.

    A page that reads the visitor's own figures in one statement loads the user's row in the same
    statement, then lets django.contrib.auth check the session against it as usual (the backend, the
    session's password hash, is_active): one round trip instead of two, and no rule skipped."""
    token = _preloaded.set(user)
    try:
        yield
    finally:
        _preloaded.reset(token)


def user_by_id(user_id) -> object | None:
    """The user with this primary key, or None (also for a value that cannot be a key)."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    if not 0 < user_id <= MAX_ID:
        return None
    preloaded = _preloaded.get()
    if preloaded is not None and preloaded.pk == user_id:
        return preloaded
    with prepared_cursor() as cursor:
        cursor.execute(_user_sql(), [user_id])
        row = cursor.fetchone()
    return None if row is None else _instance(get_user_model(), row)


def token_with_user(key: str):
    """The API token with this key, its user loaded with it (one statement), or None."""
    if not isinstance(key, str):
        return None
    with prepared_cursor() as cursor:
        cursor.execute(_token_sql(), [key])
        row = cursor.fetchone()
    if row is None:
        return None
    token_model = _token_model()
    split = len(_fields(token_model))
    token = _instance(token_model, row[:split])
    token.user = _instance(get_user_model(), row[split:])
    return token


class AccountTokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the token and its user read in one statement."""

    def authenticate_credentials(self, key):
        token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
