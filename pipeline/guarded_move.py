"""A stage move in one statement: the guarded ``UPDATE ... RETURNING`` of
``pipeline.services.deal_move``.

The move's rules are the ``UPDATE``'s ``WHERE``: the deal is in the caller's
scope, open, in another stage than the target, at the expected version, in
the stage its last history row says, and as deep as its history went. The
row lock the ``UPDATE`` takes is the one ``SELECT ... FOR UPDATE`` would
take, and ``RETURNING`` gives the deal as it now is plus the stage it left
(that last history row's, which the guard made equal to the deal's own) and
the deepest stage it had reached (its history's deepest, which the guard made
equal to the deal's own): what the funnel rollup moves it from. The history
is not changed by the ``UPDATE``, so both databases read it alike in
``RETURNING`` (a read of the deal's own row there would see the new row on
SQLite and the old one on PostgreSQL). Nothing is read before the write.

The history guard also keeps the move exact under concurrency: on
PostgreSQL, a move that waited for a concurrent one re-checks its ``WHERE``
on the new row against the history as its statement saw it; the stages then
differ, nothing is updated, and the caller takes the locking path. Whenever
nothing is updated (a rule broken, a deal without history, a race), the
locking path runs and says why, or moves.

The statement is written here from the models' names, not built by the ORM:
compiling the ORM's form of it (two ordered subqueries and a ``CASE``) took
longer than running it. Only the caller's scope is compiled by the ORM.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections, router
from django.db.models import QuerySet
from django.utils import timezone

from crm.versioning import ExpectedVersion
from pipeline.models import STAGE_INDEX, STAGE_ORDER, Deal, DealStatus, StageChange


def _history_sql(quote, order_by: str) -> str:
    """Return the subquery of a stage of the deal's history: the ``to_stage``
    of its first row by ``order_by`` (SQL).

    Built from the models' own names and stages, never from input.
    """
    history, deal = StageChange._meta, Deal._meta
    return (
        f"(SELECT h.{quote(history.get_field('to_stage').column)} "  # noqa: S608  # nosec B608
        f"FROM {quote(history.db_table)} h "
        f"WHERE h.{quote(history.get_field('deal').column)} = "
        f"{quote(deal.db_table)}.{quote(deal.pk.column)} "
        f"ORDER BY {order_by} LIMIT 1)"
    )


def _left_stage_sql(quote) -> str:
    """The deal's last history stage (the stage it leaves)."""
    history = StageChange._meta
    return _history_sql(
        quote,
        f"h.{quote(history.get_field('changed_at').column)} DESC, "
        f"h.{quote(history.pk.column)} DESC",
    )


def _deepest_stage_sql(quote) -> str:
    """The deal's deepest history stage (how deep it had gone)."""
    column = f"h.{quote(StageChange._meta.get_field('to_stage').column)}"
    depth = " ".join(f"WHEN '{stage}' THEN {i}" for stage, i in STAGE_INDEX.items())
    return _history_sql(quote, f"CASE {column} {depth} END DESC")


class _Table:
    """The deal table's quoted names, for the hand-written statement."""

    def __init__(self, connection):
        self.connection = connection
        self.quote = connection.ops.quote_name
        self.name = self.quote(Deal._meta.db_table)

    def column(self, field: str) -> str:
        """The field's column, qualified with the table (for ``WHERE``)."""
        return f"{self.name}.{self.bare(field)}"

    def bare(self, field: str) -> str:
        """The field's column alone (for ``SET``)."""
        return self.quote(Deal._meta.get_field(field).column)

    def prep(self, field: str, value) -> object:
        return Deal._meta.get_field(field).get_db_prep_save(value, self.connection)


def _scope_sql(scope: QuerySet[Deal], db: str) -> tuple[str, list]:
    """Return the condition (SQL, params) that keeps the deal in ``scope``.

    The access policy's scopes filter the deal's own columns: their ``WHERE``
    goes into the ``UPDATE`` as it is, so that PostgreSQL re-checks it on a
    row that a concurrent writer changed (an owner changed meanwhile puts the
    deal out of scope). A scope that joins other tables (such as
    ``owner__team=...``) becomes ``id IN (its ids)``. Raises
    ``EmptyResultSet`` when no deal can be in scope.
    """
    query = scope.query
    if query.count_active_tables() > 1:
        query = Deal.objects.filter(pk__in=scope.order_by().values("pk")).query
    try:
        sql, params = query.get_compiler(db).compile(query.where)
    except FullResultSet:  # the scope is every deal
        return "", []
    return f" AND ({sql})", list(params)


def _deepen_sql(table: _Table, to_stage: str) -> tuple[str, list]:
    """Return ``history.deeper`` in SQL: the new deepest stage.

    The stage is deeper than any the deal reached when the deepest is one of
    the stages before it.
    """
    deepest = table.column("deepest_stage")
    shallower = STAGE_ORDER[: STAGE_INDEX[to_stage]]
    if not shallower:
        return deepest, []
    marks = ", ".join(["%s"] * len(shallower))
    return f"CASE WHEN {deepest} IN ({marks}) THEN %s ELSE {deepest} END", [
        *shallower,
        to_stage,
    ]


def _version_sql(table: _Table, expected: ExpectedVersion) -> tuple[str, list]:
    version = table.column("version")
    if expected is None:
        return "", []
    if isinstance(expected, int):
        return f" AND {version} = %s", [expected]
    versions = sorted(expected)
    return f" AND {version} IN ({', '.join(['%s'] * len(versions))})", versions


def _in_range(connection, deal_id: int) -> bool:
    low, high = connection.ops.integer_field_range(Deal._meta.pk.get_internal_type())
    return (low is None or deal_id >= low) and (high is None or deal_id <= high)


def move_in_place(
    *,
    deal_id: int,
    to_stage: str,
    expected_version: ExpectedVersion,
    scope: QuerySet[Deal] | None,
) -> tuple[Deal, str, str] | None:
    """Move the deal if every rule holds; return it, the stage it left and the
    deepest stage it had reached, or None.

    One statement. Call it inside the move's transaction.
    """
    db = router.db_for_write(Deal)
    connection = connections[db]
    # No version can match, or no deal has this id: the lock path says why.
    if expected_version == frozenset() or not _in_range(connection, deal_id):
        return None
    table = _Table(connection)
    try:
        scope_sql, scope_params = ("", []) if scope is None else _scope_sql(scope, db)
    except EmptyResultSet:  # out of every scope: the lock path answers 404
        return None
    deepen, deepen_params = _deepen_sql(table, to_stage)
    version_sql, version_params = _version_sql(table, expected_version)
    stage = table.column("stage")
    left, deepest_before = _left_stage_sql(table.quote), _deepest_stage_sql(table.quote)
    fields = Deal._meta.concrete_fields
    returning = [*(table.quote(f.column) for f in fields), left, deepest_before]
    sql = (
        f"UPDATE {table.name} SET {table.bare('stage')} = %s, "  # noqa: S608  # nosec B608
        f"{table.bare('deepest_stage')} = {deepen}, "
        f"{table.bare('stage_entered_at')} = %s, "
        f"{table.bare('version')} = {table.column('version')} + 1, "
        f"{table.bare('updated_at')} = %s "
        f"WHERE {table.column('id')} = %s AND {table.column('status')} = %s "
        f"AND {stage} <> %s AND {stage} = {left} "
        f"AND {table.column('deepest_stage')} = {deepest_before}"
        f"{version_sql}{scope_sql} RETURNING {', '.join(returning)}"
    )
    now = timezone.now()
    params = [
        to_stage,
        *deepen_params,
        table.prep("stage_entered_at", now),
        table.prep("updated_at", now),
        deal_id,
        DealStatus.OPEN.value,
        to_stage,
        *version_params,
        *scope_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = [_converted(connection, f, v) for f, v in zip(fields, row, strict=False)]
    return Deal.from_db(db, [f.attname for f in fields], values), row[-2], row[-1]


def _converted(connection, field, value):
    """Return a raw column value as the ORM would (SQLite's dates are text)."""
    column = field.get_col(Deal._meta.db_table)
    converters = connection.ops.get_db_converters(column)
    for converter in [*converters, *field.get_db_converters(connection)]:
        value = converter(value, column, connection)
    return value
