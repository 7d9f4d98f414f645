"""Exact numbers for the KPIs: ratios, cents, durations in units, medians.

Conventions of every KPI: a ratio whose denominator is zero is ``None``; rates
are exact ``Decimal`` fractions (rounded only by the interfaces); money is per
currency, a tuple of ``(currency, amount)`` sorted by currency, never summed
across currencies.
"""

from __future__ import annotations

import datetime
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce

from django.db.models import Aggregate, Count, DecimalField, F, QuerySet

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


@dataclass(frozen=True)
class Durations:
    """How many rows, the median of their durations, and other sums over them."""

    count: int
    median: datetime.timedelta | None
    totals: dict
    # Each bucket's count (``_n``) and totals.
    per_bucket: dict[int, dict] = field(default_factory=dict)


def durations(
    queryset: QuerySet,
    start: str,
    end: str,
    bucket: str,
    *,
    per_bucket: Iterable[dict] | None = None,
    **totals: Aggregate,
) -> Durations:
    """Count ``queryset``'s rows and find the median of ``end - start`` (2 queries).

    Exact, without sorting every row: ``bucket`` is a column the database
    computes from the same two moments (``crm.durations.DurationBucket``),
    never decreasing as the duration grows. The first query counts the rows
    per bucket (and sums ``totals`` per bucket, added up here), which says
    which bucket holds the middle ranks; the second ranks only the rows of
    that bucket (or of the two holding the middle pair). Nothing to rank: 1
    query. ``per_bucket``: the same rows already counted per bucket (by a
    rollup: ``_bucket``, ``_n`` and each of ``totals``, a bucket possibly
    in several rows), whose ranking still reads ``queryset``.
    """
    duration = F(end) - F(start)
    if per_bucket is None:
        # Grouped unordered (a hash, not a sort of every row), sorted here:
        # a few hundred buckets.
        per_bucket = (
            queryset.values(_bucket=F(bucket)).annotate(_n=Count("*"), **totals)
        ).order_by()
    rows = _by_bucket(per_bucket, ["_n", *totals])
    counts = {row["_bucket"]: row for row in rows}
    count = sum(row["_n"] for row in rows)
    summed = {  # over no row: what the aggregate gives then (Count 0, Sum None)
        name: reduce(operator.add, (row[name] for row in rows))
        if rows
        else aggregate.empty_result_set_value
        for name, aggregate in totals.items()
    }
    if not count:
        return Durations(0, None, summed, counts)
    lower, upper = (count - 1) // 2, count // 2
    before, first, last, seen = 0, None, None, 0
    for row in rows:  # one row per bucket, not per record
        if first is None and seen + row["_n"] > lower:
            first, before = row["_bucket"], seen
        seen += row["_n"]
        if seen > upper:
            last = row["_bucket"]
            break
    middle = list(
        queryset.filter(**{f"{bucket}__gte": first, f"{bucket}__lte": last})
        .annotate(_median_of=duration)
        .order_by("_median_of")
        .values_list("_median_of", flat=True)[lower - before : upper - before + 1]
    )
    # Rows written between the two queries can shift the ranks: no median
    # rather than a wrong one (the next reading has it).
    median = sum(middle, datetime.timedelta()) / len(middle) if middle else None
    return Durations(count, median, summed, counts)


def _by_bucket(rows: Iterable[dict], sums: list[str]) -> list[dict]:
    """``rows`` with one row per bucket (their ``sums`` added), by bucket."""
    merged: dict[int, dict] = {}
    for row in rows:  # a few hundred buckets, a few sources
        seen = merged.get(row["_bucket"])
        if seen is None:
            merged[row["_bucket"]] = dict(row)
            continue
        for name in sums:
            if row[name] is not None:
                seen[name] = row[name] if seen[name] is None else seen[name] + row[name]
    return [merged[bucket] for bucket in sorted(merged)]
