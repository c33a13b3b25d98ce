"""Hand-written SQL built from the models' own metadata, for the few hot paths where building
and compiling statements through the ORM costs more CPU than running them (checkout: see
shop/services/checkout.py and `make bench`). Everything here works from `Model._meta`, so renamed
columns or tables follow the models; anything not on a measured hot path uses the ORM.
"""

import functools
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from config.postgres.base import prepared_cursor

MAX_ID = 2**63 - 1  # the largest BigAutoField value
# Statements for at most this many rows run prepared (planned once per connection: a checkout's
# few rows); larger ones are rarer and would each add a statement kept by every connection.
PREPARED_ROWS = 4


def _insert_cursor(database, rows: int):
    return prepared_cursor(database.alias) if rows <= PREPARED_ROWS else database.cursor()


def column(model, attname: str) -> str:
    return f'"{model._meta.db_table}"."{model._meta.get_field(attname).column}"'


def select_list(columns) -> str:
    return ", ".join(column(model, attname) for model, attnames in columns for attname in attnames)


def instances_from_row(columns, row) -> list:
    """One model instance per (model, attnames) of `columns`, from consecutive values of `row`."""
    values, instances = iter(row), []
    for model, attnames in columns:
        instances.append(model.from_db(connection.alias, attnames, [next(values) for _ in attnames]))
    return instances


def valid_id(value) -> int | None:
    """`value` as a primary key that can exist (what the ORM's lookups check for themselves)."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value <= MAX_ID else None


def _insert_fields(model, keyed: bool = False) -> list:
    """The fields an INSERT writes: all but the primary key, which `keyed` rows carry themselves."""
    return [field for field in model._meta.concrete_fields if keyed or not field.primary_key]


def next_key_sql(model) -> str:
    """SQL for the next value of `model`'s primary key sequence (PostgreSQL): drawn in a statement
    the caller runs anyway, so rows can be written with their keys known beforehand (`Keyed`)."""
    table, key = model._meta.db_table, model._meta.pk.column
    return f"nextval(pg_get_serial_sequence('\"{table}\"', '{key}'))"


class Keyed(list):
    """A group of new objects for `insert_together` whose primary keys are already set (from
    `next_key_sql`), so rows of other groups in the same statement can point at them. A unique
    value of theirs that is taken fails the statement (IntegrityError), which the caller's
    transaction then rolls back as a whole; checkout draws new order numbers and tries again."""


# How a value of a new row goes into an INSERT: as a parameter, or written into the statement when it
# is NULL or the empty string. A checkout's rows carry many of those (an order's shipped_at, closed_at,
# carrier, ...), and written in they leave the statement few enough parameters for psycopg to remember
# how it turns the statement into SQL (at most 50) instead of parsing it again on every checkout;
# PostgreSQL receives the same values either way.
PARAMETER, NULL, EMPTY = "%s", "NULL", "''"


# Fields whose value, when it already has the Python type the column stores, is written as it is:
# their pre_save reads the attribute and their get_db_prep_save returns such a value unchanged (for
# anything else, and every other field, `_row_params` asks the field, as Django's INSERT does).
_AS_IT_IS = {
    models.CharField: str,
    models.TextField: str,
    models.IntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.BooleanField: bool,
    models.AutoField: int,
    models.BigAutoField: int,
    models.SmallAutoField: int,
}
_UNSET = object()


def _as_it_is(field) -> type | None:
    """The Python type whose values `field` writes unchanged, or None (ask the field)."""
    if isinstance(field, models.ForeignKey):  # written as the key of the row it points at
        return _as_it_is(field.target_field)
    kind = _AS_IT_IS.get(type(field))
    if kind is None or type(field).pre_save is not models.Field.pre_save:
        return None
    return kind


@functools.lru_cache(maxsize=64)
def _insert_plan(model, keyed: bool = False) -> tuple:
    """(field, attname, the type written as it is or None) for each field an INSERT of `model` writes."""
    return tuple((field, field.attname, _as_it_is(field)) for field in _insert_fields(model, keyed))


def _row_params(obj, plan, database, params: list) -> tuple:
    """Append `obj`'s values (as an INSERT of a new row writes them: each field's pre_save, then its
    database value) that travel as parameters to `params`; return how each field of `plan` is
    written (PARAMETER, NULL or EMPTY)."""
    marks = []
    values = obj.__dict__
    for field, attname, kind in plan:
        value = values.get(attname, _UNSET) if kind is not None else _UNSET
        if value is _UNSET or (value is not None and type(value) is not kind):
            value = field.get_db_prep_save(field.pre_save(obj, True), database)
        if value is None:
            marks.append(NULL)
        elif type(value) is str and not value:
            marks.append(EMPTY)
        else:
            marks.append(PARAMETER)
            params.append(value)
    return tuple(marks)


def _rows_params(objects, plan, database, params: list) -> tuple:
    return tuple(_row_params(obj, plan, database, params) for obj in objects)


@functools.lru_cache(maxsize=128)
def _insert_sql(model, rows: tuple, unique: str | None = None, keyed: bool = False) -> str:
    """The INSERT of `rows` (one tuple of marks per row, from `_row_params`) of `model`."""
    fields = _insert_fields(model, keyed)
    columns = ", ".join(f'"{field.column}"' for field in fields)
    values = ", ".join(f"({', '.join(marks)})" for marks in rows)
    table, key = model._meta.db_table, model._meta.pk.column
    if unique is None:
        return f'INSERT INTO "{table}" ({columns}) VALUES {values} RETURNING "{key}"'
    column_name = model._meta.get_field(unique).column
    return (
        f'INSERT INTO "{table}" ({columns}) VALUES {values} '
        f'ON CONFLICT ("{column_name}") DO NOTHING RETURNING "{key}", "{column_name}"'
    )


def insert_many(objects: list) -> None:
    """INSERT new `objects` of one model in one statement and give them their primary keys.

    The steps QuerySet.bulk_create takes for new rows (each field's pre_save, e.g. auto_now_add, then
    its database value), with the statement written once per model and row count: checkout inserts
    its orders, lines and events this way because building them through bulk_create was a quarter
    of a checkout's CPU. Like bulk_create, no save signals are sent.
    """
    model, database = type(objects[0]), connections[DEFAULT_DB_ALIAS]  # the connection, not its proxy
    if not database.features.can_return_rows_from_bulk_insert:  # an old SQLite: let Django do it
        model._base_manager.bulk_create(objects)
        return
    params: list = []
    rows = _rows_params(objects, _insert_plan(model), database, params)
    with _insert_cursor(database, len(objects)) as cursor:
        cursor.execute(_insert_sql(model, rows), params)
        keys = [row[0] for row in cursor.fetchall()]
    for obj, key in zip(objects, keys, strict=True):
        obj.pk = key
        obj._state.adding, obj._state.db = False, database.alias


def insert_many_unique(
    objects: list, *, unique: str, regenerate: Callable[[object], None], attempts: int = 8
) -> None:
    """`insert_many` for rows with a generated unique value (`unique`, e.g. an order number): a row
    whose value is already taken, by a committed row or by a concurrent transaction's, is skipped
    by `ON CONFLICT DO NOTHING`, given a new value by `regenerate(obj)` and inserted again, so two
    writers never fail on a clash. One statement when nothing clashes (no savepoint). Raises
    RuntimeError after `attempts` rounds of clashes (a broken generator, not bad luck)."""
    model, database = type(objects[0]), connections[DEFAULT_DB_ALIAS]
    if not database.features.can_return_rows_from_bulk_insert:
        model._base_manager.bulk_create(objects)
        return
    plan = _insert_plan(model)
    pending = list(objects)
    for _attempt in range(attempts):
        params: list = []
        rows = _rows_params(pending, plan, database, params)
        with _insert_cursor(database, len(pending)) as cursor:
            cursor.execute(_insert_sql(model, rows, unique), params)
            keys = {value: key for key, value in cursor.fetchall()}
        clashed = []
        for obj in pending:
            key = keys.pop(getattr(obj, unique), None)
            if key is None:
                clashed.append(obj)
                continue
            obj.pk = key
            obj._state.adding, obj._state.db = False, database.alias
        if not clashed:
            return
        for obj in clashed:
            regenerate(obj)
        pending = clashed
    raise RuntimeError(f"{model.__name__}.{unique}: still clashing after {attempts} attempts")


@functools.lru_cache(maxsize=64)
def _insert_together_sql(shape: tuple, also: str | None = None) -> str:
    parts, selects = [], []
    for index, (model, rows, keyed) in enumerate(shape):  # rows: the marks of each row
        parts.append(f"g{index} AS ({_insert_sql(model, rows, keyed=keyed)})")
        selects.append(f'SELECT {index}, "{model._meta.pk.column}" FROM g{index}')
    if also is not None:
        parts.append(f"g{len(shape)} AS ({also})")
        selects.append(f"SELECT {len(shape)}, NULL FROM g{len(shape)}")
    return f"WITH {', '.join(parts)} {' UNION ALL '.join(selects)}"


def insert_together(*groups: list, also: tuple[str, list] | None = None) -> int | None:
    """`insert_many` for several models in one statement (PostgreSQL's data-modifying WITH), so
    inserting a second kind of row costs no extra round trip: checkout writes its orders, lines,
    order events and outbox messages this way. Empty groups are skipped; elsewhere each group is its
    own INSERT. A `Keyed` group (PostgreSQL only) carries its primary keys, so the groups after it
    can point at its rows.

    `also` is one more data-modifying statement (SQL ending in RETURNING, and its parameters) run in
    the same statement, after the inserts' parameters; the number of rows it returned is returned
    (None without `also`). Checkout's stock UPDATE of a single SKU rides along this way."""
    groups = tuple(group for group in groups if group)
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql" or len(groups) + (also is not None) < 2:
        if any(isinstance(group, Keyed) for group in groups):
            raise ValueError("Keyed groups are written together with others, on PostgreSQL only")
        for group in groups:
            insert_many(group)
        if also is None:
            return None
        with _insert_cursor(database, 1) as cursor:
            cursor.execute(*also)
            return len(cursor.fetchall())
    params: list = []
    shape = tuple(
        (
            type(group[0]),
            _rows_params(group, _insert_plan(type(group[0]), isinstance(group, Keyed)), database, params),
            isinstance(group, Keyed),
        )
        for group in groups
    )
    if also is not None:
        params += also[1]
    with _insert_cursor(database, sum(len(rows) for _model, rows, _keyed in shape)) as cursor:
        cursor.execute(_insert_together_sql(shape, also[0] if also else None), params)
        rows = cursor.fetchall()
    keys: list[list] = [[] for _ in range(len(groups) + 1)]
    for index, key in rows:
        keys[index].append(key)
    for group, group_keys in zip(groups, keys, strict=False):
        if isinstance(group, Keyed):
            group_keys = [obj.pk for obj in group]
        for obj, key in zip(group, group_keys, strict=True):
            obj.pk = key
            obj._state.adding, obj._state.db = False, database.alias
    return len(keys[len(groups)]) if also is not None else None
