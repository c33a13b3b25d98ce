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
from rest_framework import HTTP_HEADER_ENCODING, authentication, exceptions

from config.postgres.base import prepared_cursor

MAX_ID = 2**63 - 1  # the largest BigAutoField value: what the ORM's own lookup would accept


def _fields(model) -> list:
    return list(model._meta.concrete_fields)


def _select_list(model) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    return ", ".join(f"{table}.{connection.ops.quote_name(field.column)}" for field in _fields(model))


@functools.cache
def _attnames(model) -> tuple[str, ...]:
    return tuple(field.attname for field in _fields(model))


def _instance(model, values) -> object:
    return model.from_db(connection.alias, _attnames(model), values)


@functools.cache
def _user_sql() -> str:
    user = get_user_model()
    table, key = (connection.ops.quote_name(name) for name in (user._meta.db_table, user._meta.pk.column))
    return f"SELECT {_select_list(user)} FROM {table} WHERE {table}.{key} = %s"


def _token_model():
    from rest_framework.authtoken.models import Token

    return Token


@functools.cache
def token_statement() -> tuple[str, str, str]:
    """(select list, FROM clause, token key column) of the token with its user: for `token_with_user`
    and for a statement that reads other figures of the token's user along with them (their user's
    id column is `user_id_column()`); its row becomes a token by `token_from_row`."""
    Token = _token_model()  # noqa: N806
    user = get_user_model()
    quote = connection.ops.quote_name
    token_table, user_table = quote(Token._meta.db_table), quote(user._meta.db_table)
    return (
        f"{_select_list(Token)}, {_select_list(user)}",
        f"{token_table} INNER JOIN {user_table} ON {user_id_column()} = "
        f"{token_table}.{quote(Token._meta.get_field('user').column)}",
        f"{token_table}.{quote(Token._meta.pk.column)}",
    )


@functools.cache
def user_id_column() -> str:
    user = get_user_model()
    quote = connection.ops.quote_name
    return f"{quote(user._meta.db_table)}.{quote(user._meta.pk.column)}"


@functools.cache
def _token_sql() -> str:
    select_list, from_clause, key_column = token_statement()
    return f"SELECT {select_list} FROM {from_clause} WHERE {key_column} = %s"


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
    return None if row is None else token_from_row(row)[0]


def token_from_row(row) -> tuple[object, tuple]:
    """(the token with its user, the rest of the row) from a row that starts with token_statement's
    select list."""
    token_model, user_model = _token_model(), get_user_model()
    split = len(_attnames(token_model))
    end = split + len(_attnames(user_model))
    token = _instance(token_model, row[:split])
    token.user = _instance(user_model, row[split:end])
    return token, tuple(row[end:])


def authorization_header(request) -> bytes:
    """The request's Authorization header as bytes, as DRF's get_authorization_header gives it, read
    from META: `request.headers`, which DRF reads it from, first copies every header of the request."""
    value = request.META.get("HTTP_AUTHORIZATION", b"")
    return value.encode(HTTP_HEADER_ENCODING) if isinstance(value, str) else value


def _token_header(request) -> list[bytes] | None:
    """The words of an `Authorization: Token ...` header, or None for no such header."""
    parts = authorization_header(request).split()
    if not parts or parts[0].lower() != AccountTokenAuthentication.keyword.lower().encode():
        return None
    return parts


def token_key(request) -> str | None:
    """The key of an `Authorization: Token <key>` header, or None (no such header, or one that
    AccountTokenAuthentication will refuse): what a view may read ahead with (`token_preloaded`)."""
    parts = _token_header(request)
    if parts is None or len(parts) != 2:
        return None
    try:
        return parts[1].decode()
    except UnicodeError:
        return None


# A token some statement of this request already read, with its user (see `token_preloaded`).
_preloaded_token: contextvars.ContextVar = contextvars.ContextVar("preloaded_token", default=None)


@contextlib.contextmanager
def token_preloaded(token):
    """While inside, AccountTokenAuthentication takes `token` (read with its user by the caller, e.g.
    along with the caller's own figures in one statement) for a request that sends its key, instead
    of reading it again. Every check is still made on it (the key, the user's is_active); `None`
    changes nothing."""
    reset = _preloaded_token.set(token)
    try:
        yield
    finally:
        _preloaded_token.reset(reset)


class AccountTokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the token and its user read in one statement."""

    def authenticate(self, request):
        # DRF's own steps and messages; only the header is read from META (authorization_header).
        parts = _token_header(request)
        if parts is None:
            return None
        if len(parts) == 1:
            raise exceptions.AuthenticationFailed(_("Invalid token header. No credentials provided."))
        if len(parts) > 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Token string should not contain spaces.")
            )
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Token string should not contain invalid characters.")
            ) from None
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key):
        preloaded = _preloaded_token.get()
        if preloaded is not None and isinstance(key, str) and preloaded.key == key:
            token = preloaded
        else:
            token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
