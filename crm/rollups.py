"""Exact daily rollups of the ledgers: how they are added to, rebuilt and checked.

A rollup is a table of sums keyed by a day and a few dimensions (the owner,
the currency...), kept by the services in the transaction of each ledger row.
Increments are single-statement upserts, ``INSERT ... ON CONFLICT (key) DO
UPDATE SET n = table.n + excluded.n`` (SQLite and PostgreSQL alike): two
writers adding to the same day never lose a count, and no row is read first
or locked. A history row and its change's upserts go together
(``insert_with``: one statement on PostgreSQL). A dimension that can change
later (an owner) is moved by subtracting the record's sums under the old
value and adding them under the new one, in the transaction of the change.

Each rollup is described once (``Rollup``): its table, key and summed
columns, and the query that recomputes it from its ledger. ``rebuild``
(migrations, the benchmark's bulk data) and ``drift`` (``verify_rollups``)
both use that query, in SQL.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import connections, models, router
from django.db.models import (
    Count,
    DateField,
    F,
    IntegerField,
    Max,
    Min,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import TruncMonth
from django.db.models.signals import post_save
from django.db.models.sql import InsertQuery

from crm.models import (
    EVERYONE,
    CustomerChange,
    CustomerDaily,
    CustomerMonthly,
    MrrDaily,
    MrrMonthly,
    MrrMovement,
)

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Part:
    """One query of a rollup's recomputation, over one ledger.

    ``source(ledger)`` returns the ledger grouped as a ``values_list`` of the
    rollup's key then its sums, in the rollup's field order; a rebuild splits
    it into ranges of the ledger's primary key. ``record`` names the record a
    ledger row belongs to (``company_id``, ``deal_id``; ``pk`` when the ledger
    is the record itself): a change of that record's dimensions (its owner,
    its amount) moves its sums (``contributions``, ``replace``).
    """

    ledger: type[models.Model]
    # Called with the ledger model (a migration's historical one, or the app's).
    source: Callable[[type[models.Model]], QuerySet]
    record: str


@dataclass(frozen=True)
class Rollup:
    """A rollup table, its key, its sums, and the ledger queries recomputing it.

    Most rollups are one part (one ledger grouped); one whose rows come from
    several kinds of ledger row (a stage entered, a stage left) has a part
    each, summed.
    """

    name: str
    model: type[models.Model]
    key: tuple[str, ...]
    sums: tuple[str, ...]
    parts: tuple[Part, ...]

    def columns(self) -> list[str]:
        fields = [self.model._meta.get_field(n) for n in (*self.key, *self.sums)]
        return [f.column for f in fields]

    def using_apps(self, apps) -> Rollup:
        """Return the rollup on a migration's historical models."""
        return replace(
            self,
            model=apps.get_model(self.model._meta.label),
            parts=tuple(
                replace(part, ledger=apps.get_model(part.ledger._meta.label))
                for part in self.parts
            ),
        )


def add(rollup: Rollup, rows: Iterable[Row]) -> int:
    """Add ``rows`` (key and sums by field name) to the rollup in one statement.

    Rows with the same key are summed first; nothing is written when every
    sum is zero. Returns the number of keys written.
    """
    merged = _merged(rollup, rows)
    keys = list(merged)
    for start in range(0, len(keys), ADD_BATCH):
        sql, params = _upsert(
            rollup, {k: merged[k] for k in keys[start : start + ADD_BATCH]}
        )
        with connections[router.db_for_write(rollup.model)].cursor() as cursor:
            cursor.execute(sql, params)
    return len(merged)


# Keys per statement: within SQLite's bound-parameter limit for any rollup.
ADD_BATCH = 500

# What one change adds to the rollups: (rollup, its rows) pairs.
Increments = Iterable[tuple[Rollup, Iterable[Row]]]


def insert_with(
    record: models.Model,
    increments: Increments,
    others: Iterable[models.Model] = (),
) -> None:
    """Insert a new ledger row, add the rollup rows of its change, and insert
    ``others``: the change's other new rows (its webhook event), whose ids
    are not read back.

    On PostgreSQL, one statement: the rollups' upserts and the other rows'
    inserts are data-modifying ``WITH`` clauses of the row's ``INSERT ...
    RETURNING id``, so what a change records costs one round trip, and
    stands or falls as one (the rows of a rollup named twice are summed
    first: a statement may not change a row twice). Elsewhere (SQLite:
    in-process, no round trip to save) the row is saved, then each rollup
    is added and each other row saved, one statement each.
    """
    model = type(record)
    db = router.db_for_write(model)
    connection = connections[db]
    others = list(others)
    by_rollup: dict[Rollup, list[Row]] = {}
    for rollup, rows in increments:
        by_rollup.setdefault(rollup, []).extend(rows)
    pending = [(rollup, _merged(rollup, rows)) for rollup, rows in by_rollup.items()]
    pending = [(rollup, merged) for rollup, merged in pending if merged]
    if (
        connection.vendor != "postgresql"
        # Listeners expect Model.save(); a big change is split as add() does.
        or any(post_save.has_listeners(type(row)) for row in (record, *others))
        or any(len(merged) > ADD_BATCH for _, merged in pending)
    ):
        record.save(using=db)
        for rollup, merged in pending:
            add(rollup, [_row(rollup, key, sums) for key, sums in merged.items()])
        for other in others:
            other.save(using=db)
        return
    clauses, params = [], []
    for i, (rollup, merged) in enumerate(pending):
        sql, upsert_params = _upsert(rollup, merged)
        clauses.append(f"r{i} AS ({sql})")
        params += upsert_params
    for i, other in enumerate(others):
        sql, insert_params = _insert_sql(other, db)
        clauses.append(f"o{i} AS ({sql})")
        params += insert_params
    insert, insert_params = _insert_sql(record, db, returning_pk=True)
    with_clause = f"WITH {', '.join(clauses)} " if clauses else ""
    with connection.cursor() as cursor:
        cursor.execute(with_clause + insert, [*params, *insert_params])
        (record.pk,) = cursor.fetchone()
    record._state.adding, record._state.db = False, db
    for other in others:
        other._state.db = db  # inserted; its id was not read back


def _insert_sql(
    record: models.Model, db: str, *, returning_pk: bool = False
) -> tuple[str, list]:
    """Return the ``INSERT`` Django would send to save ``record`` (with
    ``RETURNING id`` when asked)."""
    meta = record._meta
    query = InsertQuery(type(record))
    query.insert_values(
        [f for f in meta.concrete_fields if not f.primary_key and not f.generated],
        [record],
    )
    compiler = query.get_compiler(using=db)
    if returning_pk:
        compiler.returning_fields = [meta.pk]
    ((sql, params),) = compiler.as_sql()
    return sql, list(params)


def _merged(rollup: Rollup, rows: Iterable[Row]) -> dict[tuple, list]:
    """Sum ``rows`` by key, leaving out keys whose sums are all zero."""
    merged: dict[tuple, list] = {}
    for row in rows:  # the few rows of one change, never a table
        key = tuple(row[name] for name in rollup.key)
        totals = merged.setdefault(key, [None] * len(rollup.sums))
        for i, name in enumerate(rollup.sums):  # None: sums of numbers or durations
            totals[i] = row[name] if totals[i] is None else totals[i] + row[name]
    return {k: v for k, v in merged.items() if any(v)}


def _row(rollup: Rollup, key: tuple, sums: list) -> Row:
    return dict(zip((*rollup.key, *rollup.sums), (*key, *sums), strict=True))


def _upsert(rollup: Rollup, merged: dict[tuple, list]) -> tuple[str, list]:
    """Return the upsert adding ``merged`` (sums by key) to the rollup."""
    connection = connections[router.db_for_write(rollup.model)]
    fields = [rollup.model._meta.get_field(n) for n in (*rollup.key, *rollup.sums)]
    params: list = []
    for key, totals in merged.items():
        for field, value in zip(fields, (*key, *totals), strict=True):
            params.append(field.get_db_prep_save(value, connection))
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return _insert(
        rollup, connection, f"VALUES {', '.join([one] * len(merged))}"
    ), params


def _insert(rollup: Rollup, connection, rows: str) -> str:
    """Return ``INSERT INTO rollup (columns) <rows> ON CONFLICT (key) DO UPDATE``
    adding each sum to the stored one. Built from the rollup's own model
    names and ``rows`` (placeholders or the compiled ledger query), never input.
    """
    quote = connection.ops.quote_name
    table = quote(rollup.model._meta.db_table)
    columns = rollup.columns()
    keys = ", ".join(map(quote, columns[: len(rollup.key)]))
    adds = ", ".join(
        f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}"
        for c in columns[len(rollup.key) :]
    )
    return (
        f"INSERT INTO {table} ({', '.join(map(quote, columns))}) {rows} "  # nosec B608
        f"ON CONFLICT ({keys}) DO UPDATE SET {adds}"
    )


def rebuild(rollup: Rollup, *, batch: int = 200_000, progress=None) -> None:
    """Recompute the rollup from its ledgers, in SQL, ``batch`` ledger rows at a time.

    Deletes the table, then runs one ``INSERT ... SELECT ... GROUP BY ... ON
    CONFLICT DO UPDATE`` per part and range of its ledger's primary key (a
    key met in two ranges or parts is summed), so neither side passes
    through Python.
    """
    db = router.db_for_write(rollup.model)
    rollup.model._default_manager.using(db).all().delete()
    for part in rollup.parts:
        bounds = part.ledger._default_manager.using(db).aggregate(
            low=Min("pk"), high=Max("pk")
        )
        if bounds["low"] is None:
            continue
        for low in range(bounds["low"], bounds["high"] + 1, batch):
            add_ledger_rows(rollup, part, pk__gte=low, pk__lt=low + batch, using=db)
            if progress is not None:
                progress(
                    rollup.name, min(low + batch - 1, bounds["high"]), bounds["high"]
                )


def add_ledger_rows(rollup: Rollup, part: Part, *, using: str | None = None, **where):
    """Add the part's ledger rows matching ``where`` to the rollup, in one statement.

    For rows written in bulk (an import's status rows): ``INSERT ... SELECT``
    of the part's grouped query, restricted to them.
    """
    db = using or router.db_for_write(rollup.model)
    connection = connections[db]
    select, params = (
        part.source(part.ledger).using(db).filter(**where).query.sql_with_params()
    )
    # SQLite parses "SELECT ... ON CONFLICT" only after a WHERE.
    rows = f"SELECT * FROM ({select}) AS source WHERE 1 = 1"  # noqa: S608  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(_insert(rollup, connection, rows), params)


def drift(rollup: Rollup, *, progress=None) -> Iterator[tuple[tuple, tuple, tuple]]:
    """Yield ``(key, in the rollup, recomputed)`` for every key that differs.

    Both sides are grouped in SQL and compared key by key (a rollup holds a
    few rows per day and owner; the parts of a recomputation are summed). A
    key whose sums are all zero counts as absent (a moved owner leaves zero
    rows behind). ``progress(read)`` is called every ``PROGRESS_EVERY`` rows
    read.
    """
    names = (*rollup.key, *rollup.sums)
    stored = _sides(
        [rollup.model._default_manager.order_by().values_list(*names)],
        len(rollup.key),
        progress,
    )
    wanted = _sides(
        [part.source(part.ledger) for part in rollup.parts], len(rollup.key), progress
    )
    zero = tuple(Decimal(0) for _ in rollup.sums)
    for key in sorted(set(stored) | set(wanted), key=str):
        have, want = stored.get(key, zero), wanted.get(key, zero)
        if have != want:
            yield key, have, want


def _sides(queries, width: int, progress) -> dict[tuple, tuple]:
    """Sum the rows of ``queries`` by key, leaving out all-zero keys."""
    side: dict[tuple, tuple] = {}
    read = 0
    for rows in queries:
        for row in rows.iterator(chunk_size=PROGRESS_EVERY):
            read += 1
            sums = tuple(map(_number, row[width:]))
            previous = side.get(row[:width])
            if previous is not None:  # the same key from another part
                sums = tuple(a + b for a, b in zip(previous, sums, strict=True))
            side[row[:width]] = sums
            if progress is not None and read % PROGRESS_EVERY == 0:
                progress(read)
    return {key: sums for key, sums in side.items() if any(sums)}


def _number(value) -> Decimal:
    """Return a sum as a Decimal (a duration as its microseconds)."""
    if isinstance(value, datetime.timedelta):
        return Decimal(value // datetime.timedelta(microseconds=1))
    return Decimal(value)


def contributions(rollup: Rollup, record_id: int) -> list[Row]:
    """Return what one record adds to the rollup (one query per part).

    Read under the record's lock before and after a change of its
    dimensions; ``replace`` then moves the difference.
    """
    names = (*rollup.key, *rollup.sums)
    return [
        dict(zip(names, row, strict=True))
        for part in rollup.parts
        for row in part.source(part.ledger).filter(**{part.record: record_id})
    ]


def replace_contributions(
    rollup: Rollup, before: Iterable[Row], after: Iterable[Row]
) -> None:
    """Take ``before`` out of the rollup and put ``after`` in (1 statement)."""
    negated = ({**row, **{name: -row[name] for name in rollup.sums}} for row in before)
    add(rollup, [*negated, *after])


PROGRESS_EVERY = 100_000


# --- the organisation's rows ------------------------------------------------------


def by_owner(path: str) -> F:
    """Group a rollup's recomputation by the record's owner (``path``)."""
    return F(path)


def everyone(path: str) -> Value:
    """Every owner in one group: the organisation's rows (``EVERYONE``)."""
    return Value(EVERYONE, output_field=IntegerField())


def per_owner_and_everyone(
    ledger: type[models.Model], source: Callable, record: str
) -> tuple[Part, ...]:
    """The parts of a rollup keeping each owner's rows and the organisation's:
    ``source(ledger, who)`` grouped once by owner, once for everyone."""
    return tuple(
        Part(
            ledger=ledger,
            source=lambda ledger, who=who: source(ledger, who),
            record=record,
        )
        for who in (by_owner, everyone)
    )


def with_everyone(rows: Iterable[Row]) -> list[Row]:
    """Return ``rows`` and a copy of each under the owner ``EVERYONE``: what
    a rollup keeping the organisation's own rows adds for one change."""
    return [
        {**row, "owner_id": owner_id}
        for row in rows
        for owner_id in (row["owner_id"], EVERYONE)
    ]


# --- the MRR rollup ---------------------------------------------------------------


def _mrr_values(ledger: type[models.Model], when=F, who=by_owner) -> QuerySet:
    """The ledger grouped as the rollup (its key, then its sums).

    ``when`` and ``who`` turn the movement's day and its customer's owner into
    the key's first two columns: the day and the owner for the daily rollup,
    the month and the owner or ``EVERYONE`` for the monthly one.
    """
    return (
        ledger._default_manager.order_by()
        .values(
            "currency", "kind", when_=when("effective_on"), who_=who("company__owner")
        )
        .annotate(total=Sum("amount"), n=Count("pk"))
        .values_list("when_", "who_", "currency", "kind", "total", "n")
    )


def _month(field: str) -> TruncMonth:
    return TruncMonth(field, output_field=DateField())


MRR = Rollup(
    name="MRR per day, owner, currency and kind (crm.MrrDaily)",
    model=MrrDaily,
    key=("day", "owner_id", "currency", "kind"),
    sums=("amount", "movements"),
    parts=(Part(ledger=MrrMovement, source=_mrr_values, record="company_id"),),
)

MRR_MONTHS = Rollup(
    name="The same per month, per owner and for everyone (crm.MrrMonthly)",
    model=MrrMonthly,
    key=("month", "owner_id", "currency", "kind"),
    sums=("amount", "movements"),
    parts=per_owner_and_everyone(
        MrrMovement,
        lambda ledger, who: _mrr_values(ledger, _month, who),
        record="company_id",
    ),
)


def add_with_months(daily: Rollup, monthly: Rollup, rows: list[Row]) -> None:
    """Add daily rollup rows, and the same by month and for everyone to its
    monthly rollup (2 statements; none for rows whose sums cancel out)."""
    add(daily, rows)
    add(
        monthly,
        ({**row, "month": row["day"].replace(day=1)} for row in with_everyone(rows)),
    )


def mrr_add(movements: Iterable[MrrMovement], *, owner_id: int) -> None:
    """Add new ledger rows of one customer (owned by ``owner_id``): 2 statements."""
    add_with_months(
        MRR,
        MRR_MONTHS,
        [
            {
                "day": m.effective_on,
                "owner_id": owner_id,
                "currency": m.currency,
                "kind": m.kind,
                "amount": m.amount,
                "movements": 1,
            }
            for m in movements
        ],
    )


def mrr_move(*, company_id: int, from_owner_id: int, to_owner_id: int) -> None:
    """Move a customer's sums to its new owner (3 statements; call it locked).

    The organisation's monthly rows do not change: the two owners' rows
    cancel out there.
    """
    if from_owner_id == to_owner_id:
        return
    rows = list(
        MrrMovement.objects.filter(company_id=company_id)
        .order_by()
        .values("effective_on", "currency", "kind")
        .annotate(amount=Sum("amount"), movements=Count("pk"))
    )
    add_with_months(
        MRR,
        MRR_MONTHS,
        [
            {
                "day": row["effective_on"],
                "owner_id": owner,
                "currency": row["currency"],
                "kind": row["kind"],
                "amount": sign * row["amount"],
                "movements": sign * row["movements"],
            }
            for row in rows
            for owner, sign in ((from_owner_id, -1), (to_owner_id, 1))
        ],
    )


# --- the customer rollups ---------------------------------------------------------


def _customer_values(ledger: type[models.Model], when=F, who=by_owner) -> QuerySet:
    """The customer ledger grouped as its rollups (as ``_mrr_values``)."""
    return (
        ledger._default_manager.order_by()
        .values(when_=when("effective_on"), who_=who("company__owner"))
        .annotate(customers=Sum("change"))
        .values_list("when_", "who_", "customers")
    )


CUSTOMERS = Rollup(
    name="Customers gained less lost per day and owner (crm.CustomerDaily)",
    model=CustomerDaily,
    key=("day", "owner_id"),
    sums=("customers",),
    parts=(Part(ledger=CustomerChange, source=_customer_values, record="company_id"),),
)

CUSTOMER_MONTHS = Rollup(
    name="The same per month, per owner and for everyone (crm.CustomerMonthly)",
    model=CustomerMonthly,
    key=("month", "owner_id"),
    sums=("customers",),
    parts=per_owner_and_everyone(
        CustomerChange,
        lambda ledger, who: _customer_values(ledger, _month, who),
        record="company_id",
    ),
)


def customers_add(changes: Iterable[CustomerChange], *, owner_id: int) -> None:
    """Add new customer ledger rows of one company (owned by ``owner_id``)."""
    add_with_months(
        CUSTOMERS,
        CUSTOMER_MONTHS,
        [
            {"day": c.effective_on, "owner_id": owner_id, "customers": c.change}
            for c in changes
        ],
    )


def customers_move(*, company_id: int, from_owner_id: int, to_owner_id: int) -> None:
    """Move a company's customer changes to its new owner (call it locked).

    As ``mrr_move``: the organisation's monthly rows do not change.
    """
    if from_owner_id == to_owner_id:
        return
    rows = (
        CustomerChange.objects.filter(company_id=company_id)
        .order_by()
        .values("effective_on")
        .annotate(customers=Sum("change"))
        .values_list("effective_on", "customers")
    )
    add_with_months(
        CUSTOMERS,
        CUSTOMER_MONTHS,
        [
            {"day": day, "owner_id": owner, "customers": sign * customers}
            for day, customers in rows
            for owner, sign in ((from_owner_id, -1), (to_owner_id, 1))
        ],
    )


# Every rollup of the CRM, by app (the apps that own ledgers register theirs).
REGISTRY: dict[str, Rollup] = {
    "mrr": MRR,
    "mrr_months": MRR_MONTHS,
    "customers": CUSTOMERS,
    "customer_months": CUSTOMER_MONTHS,
}


def register(key: str, rollup: Rollup) -> None:
    REGISTRY[key] = rollup
