"""Reads that may be served by a PostgreSQL streaming replica.

With ``DATABASE_REPLICA_URL`` set, the settings add a ``replica`` alias and the
reports (KPIs, the dashboard, the funnel, the churn series) and the CSV exports
run their queries inside ``replica_reads()``: the router sends the reads made
there to the replica. Everything else, and every write, stays on the primary,
so a user always reads what they have just written (the replica replays the
primary's WAL a moment later). Routing is opt-in per code path for that reason:
a list a rep reloads after a change must not come from a replica behind it.

A replica that cannot be reached costs one short connect timeout
(``connect_timeout`` of the alias), then is left alone for
``REPLICA_RETRY_SECONDS``: during that time the reports read the primary
without trying it again, so an outage does not add the timeout to every request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

REPLICA = "replica"
REPLICA_RETRY_SECONDS = 30.0

logger = logging.getLogger(__name__)

# The alias the router sends reads to, or None (the router then says nothing
# and Django uses the primary). A ContextVar rather than a thread-local, so
# that a streamed response or an async view keeps the value of its own context.
_read_alias: ContextVar[str | None] = ContextVar("crm_replica_read_alias", default=None)


class ReplicaHealth:
    """When the replica last failed to connect, remembered per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_until = 0.0

    def is_down(self) -> bool:
        return time.monotonic() < self._down_until

    def mark_down(self) -> None:
        with self._lock:
            self._down_until = time.monotonic() + REPLICA_RETRY_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._down_until = 0.0


health = ReplicaHealth()


def replica_configured() -> bool:
    return REPLICA in connections.settings


def _reachable() -> bool:
    """Connect to the replica if need be; on failure remember it as down."""
    connection = connections[REPLICA]
    try:
        connection.ensure_connection()
    except DatabaseError:
        health.mark_down()
        connection.close()
        logger.warning(
            "Read replica unreachable: reads go to the primary for %g s",
            REPLICA_RETRY_SECONDS,
        )
        return False
    return True


def read_alias() -> str:
    """Return the alias the next routed reads go to (the replica or the primary).

    Inside a transaction on the primary the reads stay there: they may need
    rows the transaction wrote and has not committed.
    """
    if (
        not replica_configured()
        or connections[DEFAULT_DB_ALIAS].in_atomic_block
        or health.is_down()
    ):
        return DEFAULT_DB_ALIAS
    return REPLICA if _reachable() else DEFAULT_DB_ALIAS


@contextmanager
def replica_reads() -> Iterator[str]:
    """Send the reads made inside to the replica when there is a healthy one.

    Also a decorator (``@replica_reads()``); yields the alias chosen.
    """
    alias = read_alias()
    token = _read_alias.set(alias)
    try:
        yield alias
    finally:
        _read_alias.reset(token)


def routed_alias() -> str | None:
    """Return the alias chosen by the innermost ``replica_reads``, if any."""
    return _read_alias.get()


class ReplicaRouter:
    """Route the reads of ``replica_reads`` blocks; leave everything else alone."""

    def db_for_read(self, model, **hints) -> str | None:
        return _read_alias.get()

    def db_for_write(self, model, **hints) -> str | None:
        return None

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The replica holds the same rows: an object read there may be related
        # to one read from the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        # The replica follows the primary's WAL; it is never migrated itself.
        return db != REPLICA
