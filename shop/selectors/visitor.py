"""What is a visitor's own on a shopper page, read in one query (see shop.catalog_cache's layering).

One round trip for every personal figure a page shows: which of its products the visitor ♡s and has
bought, how many items the cart holds, how many notifications are unread. It runs on every page view
of every signed-in shopper, where building the statement through the ORM (four parts, annotations,
a UNION) cost more CPU than the rest of the page, so the statement is written once in SQL from the
models' metadata (as in shop/services/rawsql.py); only the number of ids in its IN lists varies.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection

from accounts.models import Notification
from config.postgres.base import prepared_cursor
from shop.models import Cart, CartLine, Order, OrderLine, ProductLike
from shop.selectors.orders import BOUGHT_STATUSES

# The statuses' database values, worked out once rather than through the enum on every page view.
_BOUGHT_VALUES = tuple(status.value for status in BOUGHT_STATUSES)


@dataclass
class VisitorFacts:
    liked: set[int] = field(default_factory=set)
    bought: set[int] = field(default_factory=set)
    cart_count: int = 0
    unread: int = 0


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model, name: str) -> str:
    return f"{_table(model)}.{connection.ops.quote_name(model._meta.get_field(name).column)}"


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


@functools.lru_cache(maxsize=256)
def _facts_sql(*, signed_in: bool, liked: int, bought: int, badges: bool = True) -> str:
    """The UNION ALL for a visitor signed in or not, with `liked` and `bought` ids to look up, and
    the cart and inbox badges unless `badges` is false."""
    parts = []
    if liked:
        parts.append(
            f"SELECT 'liked', {_column(ProductLike, 'product')} FROM {_table(ProductLike)} "
            f"WHERE {_column(ProductLike, 'user')} = %s AND {_column(ProductLike, 'product')} "
            f"IN ({_placeholders(liked)})"
        )
    if bought:
        parts.append(
            f"SELECT DISTINCT 'bought', {_column(OrderLine, 'product')} FROM {_table(OrderLine)} "
            f"INNER JOIN {_table(Order)} ON {_column(Order, 'id')} = {_column(OrderLine, 'order')} "
            f"WHERE {_column(Order, 'buyer')} = %s "
            f"AND {_column(Order, 'status')} IN ({_placeholders(len(BOUGHT_STATUSES))}) "
            f"AND {_column(OrderLine, 'product')} IN ({_placeholders(bought)})"
        )
    if not badges:
        return " UNION ALL ".join(parts)
    cart_owner = f"{_column(Cart, 'user')} = %s" if signed_in else f"{_column(Cart, 'id')} = %s"
    if not signed_in:
        cart_owner += f" AND {_column(Cart, 'user')} IS NULL"
    parts.append(
        f"SELECT 'cart', SUM({_column(CartLine, 'quantity')}) FROM {_table(CartLine)} "
        f"INNER JOIN {_table(Cart)} ON {_column(Cart, 'id')} = {_column(CartLine, 'cart')} WHERE {cart_owner}"
    )
    if signed_in:  # the inbox badge: unread notifications
        parts.append(
            f"SELECT 'unread', COUNT(*) FROM {_table(Notification)} "
            f"WHERE {_column(Notification, 'user')} = %s AND {_column(Notification, 'read_at')} IS NULL"
        )
    return " UNION ALL ".join(parts)


def visitor_facts(
    *,
    user,
    liked_among: Collection[int] = (),
    bought_among: Collection[int] = (),
    cart_id: int | None = None,
    badges: bool = True,
) -> VisitorFacts:
    """The visitor's ♡s among `liked_among`, purchases among `bought_among`, and (with `badges`) cart
    items and unread notifications: one query, none when there is nothing to look up."""
    facts = VisitorFacts()
    signed_in = user.is_authenticated
    liked = sorted(liked_among) if signed_in else []
    bought = sorted(bought_among) if signed_in else []
    if not (badges and (signed_in or cart_id)) and not (liked or bought):
        return facts
    params: list = []
    if liked:
        params += [user.pk, *liked]
    if bought:
        params += [user.pk, *_BOUGHT_VALUES, *bought]
    if badges:
        params.append(user.pk if signed_in else cart_id)
        if signed_in:
            params.append(user.pk)
    sql = _facts_sql(signed_in=signed_in, liked=len(liked), bought=len(bought), badges=badges)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for kind, value in rows:
        if kind == "liked":
            facts.liked.add(value)
        elif kind == "bought":
            facts.bought.add(value)
        elif kind == "cart":
            facts.cart_count = int(value or 0)
        elif kind == "unread":
            facts.unread = int(value or 0)
    return facts


@functools.lru_cache(maxsize=256)
def _user_and_facts_sql(*, liked: int, bought: int) -> str:
    """One row: the user's columns, then their ♡s and purchases among the given ids (arrays), the
    cart's item count and the unread notifications, each a subquery on the user's id."""
    from accounts.authentication import user_columns

    user = get_user_model()
    user_table, user_id = _table(user), _column(user, user._meta.pk.name)
    liked_sql = bought_sql = "ARRAY[]::bigint[]"
    if liked:
        liked_sql = (
            f"ARRAY(SELECT {_column(ProductLike, 'product')} FROM {_table(ProductLike)} "
            f"WHERE {_column(ProductLike, 'user')} = {user_id} "
            f"AND {_column(ProductLike, 'product')} IN ({_placeholders(liked)}))"
        )
    if bought:
        bought_sql = (
            f"ARRAY(SELECT DISTINCT {_column(OrderLine, 'product')} FROM {_table(OrderLine)} "
            f"INNER JOIN {_table(Order)} ON {_column(Order, 'id')} = {_column(OrderLine, 'order')} "
            f"WHERE {_column(Order, 'buyer')} = {user_id} "
            f"AND {_column(Order, 'status')} IN ({_placeholders(len(BOUGHT_STATUSES))}) "
            f"AND {_column(OrderLine, 'product')} IN ({_placeholders(bought)}))"
        )
    cart_sql = (
        f"(SELECT SUM({_column(CartLine, 'quantity')}) FROM {_table(CartLine)} "
        f"INNER JOIN {_table(Cart)} ON {_column(Cart, 'id')} = {_column(CartLine, 'cart')} "
        f"WHERE {_column(Cart, 'user')} = {user_id})"
    )
    unread_sql = (
        f"(SELECT COUNT(*) FROM {_table(Notification)} "
        f"WHERE {_column(Notification, 'user')} = {user_id} AND {_column(Notification, 'read_at')} IS NULL)"
    )
    select_list, _fields = user_columns()
    return (
        f"SELECT {select_list}, {liked_sql}, {bought_sql}, {cart_sql}, {unread_sql} "
        f"FROM {user_table} WHERE {user_id} = %s"
    )


def user_and_facts(
    *, user_id: int, liked_among: Collection[int] = (), bought_among: Collection[int] = ()
) -> tuple[object | None, VisitorFacts]:
    """The signed-in visitor's user row and `visitor_facts` (badges included) in one statement, for a
    page that has not loaded the user yet: (None, empty facts) when no such user exists.

    The user is not yet vouched for: the caller hands it to django.contrib.auth
    (accounts.authentication.user_preloaded), which checks the session against it, and uses the
    facts only if the request's user turns out to be this one. PostgreSQL only (ARRAY subqueries);
    elsewhere callers use `visitor_facts`."""
    from accounts.authentication import user_columns, user_from_row

    liked, bought = sorted(liked_among), sorted(bought_among)
    params: list = [*liked]
    if bought:
        params += [*_BOUGHT_VALUES, *bought]
    params.append(user_id)
    with prepared_cursor() as cursor:
        cursor.execute(_user_and_facts_sql(liked=len(liked), bought=len(bought)), params)
        row = cursor.fetchone()
    if row is None:
        return None, VisitorFacts()
    width = len(user_columns()[1])
    liked_ids, bought_ids, cart_count, unread = row[width:]
    facts = VisitorFacts(
        liked=set(liked_ids), bought=set(bought_ids), cart_count=int(cart_count or 0), unread=int(unread or 0)
    )
    return user_from_row(row[:width]), facts


@functools.lru_cache(maxsize=1)
def _token_and_liked_sql() -> str:
    from accounts.authentication import token_statement, user_id_column

    select_list, from_clause, key_column = token_statement()
    return (
        f"SELECT {select_list}, EXISTS(SELECT 1 FROM {_table(ProductLike)} "
        f"WHERE {_column(ProductLike, 'user')} = {user_id_column()} "
        f"AND {_column(ProductLike, 'product')} = %s) "
        f"FROM {from_clause} WHERE {key_column} = %s"
    )


def token_and_liked(*, key: str, product_id: int) -> tuple[object | None, bool]:
    """The API token with this key (its user loaded with it) and whether that user ♡s the product, in
    one statement, for an API answer that has not authenticated its caller yet: (None, False) when no
    such token exists.

    The token is not yet vouched for: the caller hands it to DRF's authentication
    (accounts.authentication.token_preloaded), which checks it as always, and uses `liked` only if
    the request was authenticated by this token. PostgreSQL or not, plain SQL."""
    from accounts.authentication import token_from_row

    with prepared_cursor() as cursor:
        cursor.execute(_token_and_liked_sql(), [product_id, key])
        row = cursor.fetchone()
    if row is None:
        return None, False
    token, (liked,) = token_from_row(row)
    return token, bool(liked)
