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
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Case, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from crm.versioning import ExpectedVersion
from pipeline.models import STAGE_INDEX, STAGE_ORDER, Deal, DealStatus, StageChange
from pipeline.rollups import depth_of


def _last_history(field: str):
    return (
        StageChange.objects.filter(deal=OuterRef("pk"))
        .order_by("-changed_at", "-pk")
        .values(field)[:1]
    )


def _deepest_in_history():
    return (
        StageChange.objects.filter(deal=OuterRef("pk"))
        .order_by(depth_of("to_stage").desc())
        .values("to_stage")[:1]
    )


def _history_sql(connection, order_by: str) -> str:
    """Return the subquery of a stage of the deal's history, for ``RETURNING``:
    the ``to_stage`` of its first row by ``order_by`` (SQL).

    Built from the models' own names and stages, never from input.
    """
    quote = connection.ops.quote_name
    history, deal = StageChange._meta, Deal._meta
    return (
        f"(SELECT h.{quote(history.get_field('to_stage').column)} "  # noqa: S608  # nosec B608
        f"FROM {quote(history.db_table)} h "
        f"WHERE h.{quote(history.get_field('deal').column)} = "
        f"{quote(deal.db_table)}.{quote(deal.pk.column)} "
        f"ORDER BY {order_by} LIMIT 1)"
    )


def _left_stage_sql(connection) -> str:
    """The deal's last history stage (the stage it leaves)."""
    quote = connection.ops.quote_name
    history = StageChange._meta
    return _history_sql(
        connection,
        f"h.{quote(history.get_field('changed_at').column)} DESC, "
        f"h.{quote(history.pk.column)} DESC",
    )


def _deepest_stage_sql(connection) -> str:
    """The deal's deepest history stage (how deep it had gone)."""
    to_stage = StageChange._meta.get_field("to_stage").column
    column = f"h.{connection.ops.quote_name(to_stage)}"
    depth = " ".join(f"WHEN '{stage}' THEN {i}" for stage, i in STAGE_INDEX.items())
    return _history_sql(connection, f"CASE {column} {depth} END DESC")


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
    if expected_version == frozenset():  # no version can match: the lock path 412s
        return None
    rows = Deal.objects.all() if scope is None else scope
    guarded = (
        rows.filter(pk=deal_id, status=DealStatus.OPEN)
        .exclude(stage=to_stage)
        .filter(stage=Subquery(_last_history("to_stage")))
        # A deal written without the services (deeper than its history) takes
        # the locking path, which reads its depth from the locked row.
        .filter(deepest_stage=Subquery(_deepest_in_history()))
    )
    if isinstance(expected_version, int):
        guarded = guarded.filter(version=expected_version)
    elif expected_version is not None:
        guarded = guarded.filter(version__in=expected_version)
    now = timezone.now()
    query = guarded.query.chain(UpdateQuery)
    query.add_update_values(
        {
            "stage": to_stage,
            # history.deeper, in SQL: the stage is deeper than any the deal
            # reached when the deepest is one of the stages before it.
            "deepest_stage": Case(
                When(
                    deepest_stage__in=STAGE_ORDER[: STAGE_INDEX[to_stage]],
                    then=Value(to_stage),
                ),
                default=F("deepest_stage"),
            ),
            "stage_entered_at": now,
            "version": F("version") + 1,
            "updated_at": now,
        }
    )
    db = router.db_for_write(Deal)
    connection = connections[db]
    try:
        sql, params = query.get_compiler(db).as_sql()
    except EmptyResultSet:
        # No row can match (an id beyond the column's range): the lock path
        # answers as for any missing deal.
        return None
    fields = Deal._meta.concrete_fields
    quote = connection.ops.quote_name
    returning = ", ".join(
        [
            *(quote(f.column) for f in fields),
            _left_stage_sql(connection),
            _deepest_stage_sql(connection),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", params)
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
