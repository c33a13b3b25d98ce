"""Django's PostgreSQL backend with a health check that costs no round trip.

With persistent connections (CONN_MAX_AGE) Django checks, at the first query of every request,
that the connection it kept still works (CONN_HEALTH_CHECKS): its check runs `SELECT 1`, a whole
round trip to the server on every request that touches the database, which on a cached signed-in
page was one of its three. A server that closed the connection (restarted, or ended the session)
has told the client so on the socket: a termination message, then end of file. So an idle
connection with nothing waiting to be read is alive as far as anything but a query can tell, and
one with something waiting is checked the old way, with `SELECT 1`, and dropped if that fails.
A connection that had errors or is inside a transaction is always checked the old way.
"""

import select

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
