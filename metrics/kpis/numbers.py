"""Exact numbers for the KPIs: ratios, cents, durations in units, medians.

Conventions of every KPI: a ratio whose denominator is zero is ``None``; rates
are exact ``Decimal`` fractions (rounded only by the interfaces); money is per
currency, a tuple of ``(currency, amount)`` sorted by currency, never summed
across currencies.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, QuerySet

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


def median(queryset: QuerySet, expression, count: int) -> datetime.timedelta | None:
    """Return the median of ``expression`` over ``queryset``'s ``count`` rows.

    Portable across SQLite and PostgreSQL: the caller already counted the rows,
    so one ordered query reads only the middle one or two (OFFSET/LIMIT).
    """
    if not count:
        return None
    lower = (count - 1) // 2
    middle = list(
        queryset.annotate(_median_of=expression)
        .order_by("_median_of")
        .values_list("_median_of", flat=True)[lower : count // 2 + 1]
    )
    return sum(middle, datetime.timedelta()) / len(middle)
