"""Django's PostgreSQL backend with a health check that costs no round trip, and cursors for the few
statements that run on every request, planned once per connection.

The health check. With persistent connections (CONN_MAX_AGE) Django checks, at the first query of
every request, that the connection it kept still works (CONN_HEALTH_CHECKS): its check runs
`SELECT 1`, a whole round trip to the server on every request that touches the database, which on a
cached signed-in page was one of its three. A server that closed the connection (restarted, or ended
the session) has told the client so on the socket: a termination message, then end of file. So an
idle connection with nothing waiting to be read is alive as far as anything but a query can tell,
and one with something waiting is checked the old way, with `SELECT 1`, and dropped if that fails.
A connection that had errors or is inside a transaction is always checked the old way.

Prepared statements. Django binds parameters on the client and never prepares (psycopg's
`prepare_threshold` is None, so connection poolers keep working), so PostgreSQL parses and plans
every statement it is sent. For the signed-in visitor's one statement of a cached page (the user and
every personal figure, shop.selectors.visitor) planning took 0.3 ms of the server's CPU against
0.06 ms running it. `prepared_cursor(connection)` gives a cursor (Django's wrapper: logged, counted
by tests, errors translated) whose statements are bound on the server and prepared, once per
connection and statement (psycopg keeps them, least recently used first out). It needs psycopg's
`prepare_threshold` set (settings: OPTIONS); behind a pooler in transaction mode, set
DATABASE_PREPARED_STATEMENTS=0 and these cursors bind on the server without preparing.
"""

import select

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if self.errors_occurred or raw.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()
            poller.register(raw.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            waiting = poller.poll(0)
        except (OSError, ValueError):
            return False
        return super().is_usable() if waiting else True

    def prepared_cursor(self):
        """Like `cursor()`, for statements PostgreSQL should plan once per connection."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(_PreparingCursor(self.connection))


class _PreparingCursor(psycopg.Cursor):
    """Binds parameters on the server and prepares every statement it runs."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def prepared_cursor(using: str = DEFAULT_DB_ALIAS):
    """A cursor of database `using` whose statements are prepared on this backend (an ordinary one
    elsewhere: the SQLite demo)."""
    connection = connections[using]
    if isinstance(connection, DatabaseWrapper):
        return connection.prepared_cursor()
    return connection.cursor()
