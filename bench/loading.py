"""Fast row writers: PostgreSQL ``COPY``, elsewhere batched ``executemany``.

Rows are tuples of Python values in the order of the columns given (attnames,
e.g. ``owner_id``), with explicit primary keys. ``bulk_create`` is not used on
SQLite because ``auto_now_add`` would overwrite the historical ``created_at``
every generated row carries; the values are converted with the backend's own
adapters instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any

from django.core.management.color import no_style
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from tqdm import tqdm

BATCH_SIZE = 5000


def is_postgresql(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


def _converter(
    field: models.Field, connection: BaseDatabaseWrapper
) -> Callable[[Any], Any] | None:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        return lambda value: ops.adapt_decimalfield_value(
            value, field.max_digits, field.decimal_places
        )
    return None


class TableWriter:
    """Append rows to one model's table; use as ``with writer(...) as write:``."""

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        model: type[models.Model],
        columns: list[str],
        *,
        total: int,
        progress: bool,
    ) -> None:
        self.connection = connection
        self.model = model
        self.columns = columns
        fields = {f.attname: f for f in model._meta.concrete_fields}
        self.fields = [fields[name] for name in columns]
        self.bar = tqdm(
            total=total,
            desc=model._meta.db_table,
            unit="row",
            unit_scale=True,
            disable=not progress,
            leave=True,
        )
        self.rows = 0

    def write_all(self, rows: Iterable[tuple]) -> int:
        """Write every row of ``rows``; return how many."""
        if is_postgresql(self.connection):
            self._copy(rows)
        else:
            self._insert(rows)
        self.bar.close()
        return self.rows

    def _copy(self, rows: Iterable[tuple]) -> None:
        quote = self.connection.ops.quote_name
        sql = "COPY {} ({}) FROM STDIN".format(
            quote(self.model._meta.db_table),
            ", ".join(quote(f.column) for f in self.fields),
        )
        bar, count = self.bar, 0
        with self.connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)
                count += 1
                if not count % BATCH_SIZE:
                    bar.update(BATCH_SIZE)
        bar.update(count % BATCH_SIZE)
        self.rows = count

    def _insert(self, rows: Iterable[tuple]) -> None:
        quote = self.connection.ops.quote_name
        # Table and column names come from the models, quoted; values are params.
        sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
            quote(self.model._meta.db_table),
            ", ".join(quote(f.column) for f in self.fields),
            ", ".join(["%s"] * len(self.fields)),
        )
        converters = [
            (i, conv)
            for i, f in enumerate(self.fields)
            if (conv := _converter(f, self.connection)) is not None
        ]
        batch: list[tuple] = []
        with self.connection.cursor() as cursor:
            for row in rows:
                if converters:
                    values = list(row)
                    for i, conv in converters:
                        if values[i] is not None:
                            values[i] = conv(values[i])
                    row = tuple(values)
                batch.append(row)
                if len(batch) >= BATCH_SIZE:
                    cursor.executemany(sql, batch)
                    self.rows += len(batch)
                    self.bar.update(len(batch))
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                self.rows += len(batch)
                self.bar.update(len(batch))


@contextmanager
def bulk_load(connection: BaseDatabaseWrapper, *, skip_triggers: bool):
    """Load in one transaction; on PostgreSQL optionally without FK triggers.

    ``session_replication_role = replica`` skips the per-row foreign-key checks
    (the generator writes consistent keys; check constraints still apply). It
    needs a superuser, so it is tried and silently left out when refused.
    """
    replica = False
    if skip_triggers and is_postgresql(connection) and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            try:
                cursor.execute("SET session_replication_role = replica")
                replica = True
            except Exception:
                replica = False
    try:
        yield
    finally:
        if replica:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")


def reset_sequences(
    connection: BaseDatabaseWrapper, model_list: list[type[models.Model]]
) -> None:
    """Move the id sequences past the explicit ids written (PostgreSQL)."""
    statements = connection.ops.sequence_reset_sql(no_style(), model_list)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def analyze(connection: BaseDatabaseWrapper) -> None:
    """Refresh planner statistics (and the visibility map, outside a transaction)."""
    with connection.cursor() as cursor:
        if is_postgresql(connection) and not connection.in_atomic_block:
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
