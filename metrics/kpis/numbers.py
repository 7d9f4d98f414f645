"""Exact numbers for the KPIs: ratios, cents, durations in units, medians.

Conventions of every KPI: a ratio whose denominator is zero is ``None``; rates
are exact ``Decimal`` fractions (rounded only by the interfaces); money is per
currency, a tuple of ``(currency, amount)`` sorted by currency, never summed
across currencies.
"""

from __future__ import annotations

import datetime
import operator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce

from django.db.models import (
    Aggregate,
    Count,
    DecimalField,
    DurationField,
    F,
    Func,
    QuerySet,
)

Money = tuple[tuple[str, Decimal], ...]

CENT = Decimal("0.01")
# Money sums are computed wide enough for a million rows of the models' amounts.
MONEY_SUM = DecimalField(max_digits=24, decimal_places=2)
MICROSECONDS = datetime.timedelta(microseconds=1)


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    """Return numerator / denominator, or None when the denominator is zero."""
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def in_units(duration: datetime.timedelta | None, unit: datetime.timedelta) -> Decimal:
    """Return a duration in hours, minutes or days, exactly (no float)."""
    if duration is None:
        return Decimal(0)
    return Decimal(duration // MICROSECONDS) / Decimal(unit // MICROSECONDS)


class WholeUnits(Func):
    """A duration truncated to whole minutes or hours (a DurationField).

    Non-decreasing in the duration, so rows ordered by it are ordered by the
    duration too: ``durations`` counts a period's rows per unit to find which
    unit holds the median, then ranks only that unit's rows. PostgreSQL's
    ``date_trunc`` is exact on an interval; on SQLite, Django's
    ``django_timestamp_diff`` gives exact microseconds, truncated by integer
    division. The same PostgreSQL expression is indexed (leads migration
    0025), so the ranking query reads one unit's entries.
    """

    output_field = DurationField()
    UNITS = {"minute": 60_000_000, "hour": 3_600_000_000}

    def __init__(self, duration, unit: str):
        if unit not in self.UNITS:
            raise ValueError(f"unit must be one of {sorted(self.UNITS)}")
        self.unit = unit
        super().__init__(duration)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template=f"date_trunc('{self.unit}', %(expressions)s)",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        micros = self.UNITS[self.unit]
        return self.as_sql(
            compiler,
            connection,
            template=f"((%(expressions)s) / {micros} * {micros})",
            **extra,
        )


@dataclass(frozen=True)
class Durations:
    """How many rows, the median of their durations, and other sums over them."""

    count: int
    median: datetime.timedelta | None
    totals: dict


def durations(
    queryset: QuerySet, start: str, end: str, *, unit: str, **totals: Aggregate
) -> Durations:
    """Count ``queryset``'s rows and find the median of ``end - start`` (2 queries).

    Exact, without sorting every row: the first query counts the rows per
    whole unit of their duration (and sums ``totals`` per unit, added up
    here), which says which unit holds the middle ranks; the second ranks only
    the rows of that unit (or of the two holding the middle pair). Nothing to
    rank: 1 query.
    """
    duration = F(end) - F(start)
    bucket = WholeUnits(duration, unit)
    rows = list(
        queryset.annotate(_bucket=bucket)
        .values("_bucket")
        .annotate(_n=Count("*"), **totals)
        .order_by("_bucket")
    )
    count = sum(row["_n"] for row in rows)
    summed = {  # over no row: what the aggregate gives then (Count 0, Sum None)
        name: reduce(operator.add, (row[name] for row in rows))
        if rows
        else aggregate.empty_result_set_value
        for name, aggregate in totals.items()
    }
    if not count:
        return Durations(0, None, summed)
    lower, upper = (count - 1) // 2, count // 2
    before, first, last, seen = 0, None, None, 0
    for row in rows:  # one row per unit of duration, not per record
        if first is None and seen + row["_n"] > lower:
            first, before = row["_bucket"], seen
        seen += row["_n"]
        if seen > upper:
            last = row["_bucket"]
            break
    middle = list(
        queryset.annotate(_bucket=bucket, _median_of=duration)
        .filter(_bucket__gte=first, _bucket__lte=last)
        .order_by("_median_of")
        .values_list("_median_of", flat=True)[lower - before : upper - before + 1]
    )
    # Rows written between the two queries can shift the ranks: no median
    # rather than a wrong one (the next reading has it).
    median = sum(middle, datetime.timedelta()) / len(middle) if middle else None
    return Durations(count, median, summed)
