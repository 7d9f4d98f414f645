"""Customers and churn: customers on a day, customer churn, and the MRR bridge,
read from the customer ledger (``crm.CustomerChange``), the MRR movement ledger
(``crm.MrrMovement``) and their rollups.

Periods chain: the cohort of a period is what ran at the start of its first
day (the end of the day before), its end what runs at the end of its last day,
and an event effective on a day belongs to the period containing that day. So
one period's end is the next one's start, and the movements of the months of
a quarter add up to the quarter's.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connections, router
from django.db.models import (
    Case,
    IntegerField,
    Model,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from crm.models import (
    EVERYONE,
    CustomerChange,
    CustomerDaily,
    CustomerMonthly,
    MovementKind,
    MrrDaily,
    MrrMonthly,
)
from metrics.kpis.numbers import MONEY_SUM, Money, ratio, to_cents
from metrics.segments import Period, Segment

Rates = tuple[tuple[str, Decimal | None], ...]
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class ChurnKpis:
    """Customers and the MRR bridge over one period (docs/metrics.md, "Churn").

    Money is per currency; every MRR movement figure is positive (contraction
    and churned MRR are amounts lost). ``mrr_end = mrr_start + net_new_mrr``
    and ``net_new_mrr = new + expansion + reactivation - contraction - churned``
    in each currency.
    """

    period: Period
    customers_start: int
    customers_end: int
    churned_customers: int
    customer_churn_rate: Decimal | None
    retention_rate: Decimal | None
    mrr_start: Money
    mrr_end: Money
    new_mrr: Money
    expansion_mrr: Money
    contraction_mrr: Money
    churned_mrr: Money
    reactivation_mrr: Money
    net_new_mrr: Money
    gross_mrr_churn_rate: Rates
    net_mrr_churn_rate: Rates
    gross_revenue_retention: Rates
    net_revenue_retention: Rates


def customers_on(*, day: datetime.date, segment: Segment) -> int:
    """Return the number of customers on ``day`` (at its end; 1 query).

    The customer ledger's changes up to that day, summed from its rollups.
    """
    rows = _by_span([day + DAY], segment, CUSTOMER_ROLLUPS)
    return int(sum(row["total"] for row in rows))


def _customers(
    periods: list[Period], bounds: list[datetime.date], rows: list[dict]
) -> list[dict[str, int]]:
    """Return the customers at each period's start and end, from the customer
    rollups' sums by span (``_by_span``)."""
    spans = [0] * len(bounds)
    for row in rows:
        if row["kind"] == CUSTOMERS:
            spans[row["span"]] += int(row["total"])
    # The customers at the end of the day before bounds[i]: spans [0, i].
    at = {bound: sum(spans[: i + 1]) for i, bound in enumerate(bounds)}
    return [{"start": at[p.start], "end": at[p.end + DAY]} for p in periods]


def _churned(periods: list[Period], segment: Segment) -> list[int]:
    """Count, for each period, the customers at its start that are none at its
    end (1 query).

    Only a company that stopped being a customer within the periods can be
    one: their changes up to each boundary day are summed per company (1 when
    a customer then), from the customer ledger. So the query reads the few
    companies lost in the span (an index of the losses), never every
    customer. One that left and came back within a period is not lost; a
    plan change or a second subscription ending is no change at all.
    """
    days = sorted({p.start - DAY for p in periods} | {p.end for p in periods})
    column = {day: f"on_{i}" for i, day in enumerate(days)}
    lost = CustomerChange.objects.filter(
        change__lt=0, effective_on__gt=days[0], effective_on__lte=days[-1]
    ).values("company_id")
    states = (
        CustomerChange.objects.filter(
            segment.owned("company__owner"),
            company_id__in=lost,
            effective_on__lte=days[-1],
        )
        .values("company_id")
        .annotate(
            **{
                on: Coalesce(Sum("change", filter=Q(effective_on__lte=day)), 0)
                for day, on in column.items()
            }
        )
        .order_by()
    )
    # The outer count in SQL: the ORM's aggregate over an annotated
    # subquery rewrites every expression once per figure (4 ms of Python
    # for the 12-month series, more than the query).
    db = router.db_for_read(CustomerChange)
    connection = connections[db]
    inner, params = states.query.get_compiler(using=db).as_sql()
    quote = connection.ops.quote_name
    counts = ", ".join(
        f"COALESCE(SUM(CASE WHEN {quote(column[p.start - DAY])} = 1 "
        f"AND {quote(column[p.end])} = 0 THEN 1 ELSE 0 END), 0)"
        for p in periods
    )
    with connection.cursor() as cursor:
        # Column names generated above and the ORM's SQL: no input.
        cursor.execute(f"SELECT {counts} FROM ({inner}) AS states", params)  # noqa: S608  # nosec B608
        return [int(n) for n in cursor.fetchone()]


# The bridge's movement figures: (name, ledger kind, sign making it positive).
MOVEMENTS = (
    ("new", MovementKind.NEW, 1),
    ("expansion", MovementKind.EXPANSION, 1),
    ("contraction", MovementKind.CONTRACTION, -1),
    ("churned", MovementKind.CHURN, -1),
    ("reactivation", MovementKind.REACTIVATION, 1),
)


def _mrr(
    periods: list[Period], bounds: list[datetime.date], rows: list[dict]
) -> list[dict[str, Money]]:
    """Return MRR at each period's start and end and each movement, per
    currency, from the MRR rollups' sums by span (``_by_span``).

    MRR at a moment is the sum of every movement effective before it, so
    each period's figures are sums of a few spans.
    """
    # sums[currency][kind][i]: the movements of that kind in span i.
    sums: dict[str, dict[str, list[Decimal]]] = {}
    for row in rows:  # at most currencies x kinds x spans
        if row["kind"] == CUSTOMERS:
            continue
        by_kind = sums.setdefault(row["currency"], {})
        spans = by_kind.setdefault(row["kind"], [Decimal(0)] * len(bounds))
        spans[row["span"]] += row["total"]
    # The days before bounds[i] are the spans [0, i + 1).
    before = {bound: i + 1 for i, bound in enumerate(bounds)}

    def total(by_kind: dict, kinds, first: int, last: int) -> Decimal:
        """Sum ``kinds`` over the spans [first, last)."""
        return sum(
            (sum(by_kind.get(kind, ())[first:last], Decimal(0)) for kind in kinds),
            Decimal(0),
        )

    every_kind = [kind for _, kind, _ in MOVEMENTS]
    result = []
    for p in periods:
        first, after = before[p.start], before[p.end + DAY]
        figures = {
            "start": (1, every_kind, 0, first),
            "end": (1, every_kind, 0, after),
        } | {name: (sign, [kind], first, after) for name, kind, sign in MOVEMENTS}
        result.append(
            {
                name: tuple(
                    (
                        currency,
                        _positive(sign, total(sums[currency], kinds, lo, hi)),
                    )
                    for currency in sorted(sums)
                )
                for name, (sign, kinds, lo, hi) in figures.items()
            }
        )
    return result


@dataclass(frozen=True)
class SpanRollups:
    """A pair of rollups read by span: monthly rows (with ``EVERYONE`` rows for
    the organisation) and daily ones, grouped the same way."""

    monthly: type[Model]
    daily: type[Model]
    total: Sum
    # Each row's currency and kind, for a rollup without those fields.
    constants: dict[str, Value]


MRR_ROLLUPS = SpanRollups(
    MrrMonthly, MrrDaily, Sum("amount", output_field=MONEY_SUM), constants={}
)
# The customer rollups' rows, read in the MRR rollups' query under this kind.
CUSTOMERS = "customers"
CUSTOMER_ROLLUPS = SpanRollups(
    CustomerMonthly,
    CustomerDaily,
    Sum("customers", output_field=MONEY_SUM),
    constants={"currency": Value(""), "kind": Value(CUSTOMERS)},
)


def _by_span(
    bounds: list[datetime.date], segment: Segment, *pairs: SpanRollups
) -> QuerySet:
    """The rollups summed per currency, kind and span (span i: the days in
    [bounds[i - 1], bounds[i]), span 0 every day before bounds[0]); 1 query.

    One ``CASE`` on the day or month, whatever the number of periods. Whole
    months come from the monthly rollups (for the whole organisation their
    ``EVERYONE`` rows); only the months a bound splits (one not on a month's
    first day), day by day from the daily ones: a few rows per month and
    kind, however many customers, movements or reps.
    """
    split = sorted({bound.replace(day=1) for bound in bounds if bound.day != 1})
    in_split = Q()
    for month in split:
        in_split |= Q(day__gte=month, day__lt=_next_month(month))

    def summed(rows: QuerySet, field: str, pair: SpanRollups) -> QuerySet:
        span = Case(
            *(
                When(**{f"{field}__lt": b, "then": Value(i)})
                for i, b in enumerate(bounds)
            ),
            output_field=IntegerField(),
        )
        fields = [name for name in ("currency", "kind") if name not in pair.constants]
        return (
            rows.values(*fields, **pair.constants, span=span)
            .annotate(total=pair.total)
            .order_by()
        )

    parts = []
    for pair in pairs:
        months = pair.monthly.objects.filter(
            segment.owned("owner_id") or Q(owner_id=EVERYONE), month__lt=bounds[-1]
        ).exclude(month__in=split)
        parts.append(summed(months, "month", pair))
        if split:
            days = pair.daily.objects.filter(
                in_split, segment.owned("owner"), day__lt=bounds[-1]
            )
            parts.append(summed(days, "day", pair))
    if len(parts) == 1:
        return parts[0]
    return parts[0].union(*parts[1:], all=True)


def _next_month(month: datetime.date) -> datetime.date:
    return (month + datetime.timedelta(days=31)).replace(day=1)


def _positive(sign: int, total: Decimal | None) -> Decimal:
    """Return a ledger sum as the bridge shows it (losses positive; no -0.00)."""
    value = to_cents(sign * (total or Decimal(0)))
    return value if value else abs(value)


def _per_currency(money: dict[str, Money], formula) -> Rates:
    """Apply ``formula`` to each currency's figures (a dict of amounts)."""
    by_name = {name: dict(values) for name, values in money.items()}
    return tuple(
        (currency, formula({name: by_name[name][currency] for name in by_name}))
        for currency, _ in money["start"]
    )


def _bridge(money: dict[str, Money]) -> dict[str, Money | Rates]:
    """Return the figures derived from the ledger sums, per currency."""
    lost = dict(_per_currency(money, lambda m: m["churned"] + m["contraction"]))
    expansion = dict(money["expansion"])
    start = dict(money["start"])
    gross = {c: ratio(lost[c], start[c]) for c in start}
    net = {c: ratio(lost[c] - expansion[c], start[c]) for c in start}
    return {
        "net_new_mrr": _per_currency(
            money,
            lambda m: (
                m["new"]
                + m["expansion"]
                + m["reactivation"]
                - m["contraction"]
                - m["churned"]
            ),
        ),
        "gross_mrr_churn_rate": tuple(gross.items()),
        "net_mrr_churn_rate": tuple(net.items()),
        "gross_revenue_retention": tuple(
            (c, None if r is None else 1 - r) for c, r in gross.items()
        ),
        "net_revenue_retention": tuple(
            (c, None if r is None else 1 - r) for c, r in net.items()
        ),
    }


def _churn_many(periods: list[Period], segment: Segment) -> list[ChurnKpis]:
    """The figures of each period from 2 queries: the MRR and customer
    rollups by span, and the customers lost."""
    bounds = sorted({p.start for p in periods} | {p.end + DAY for p in periods})
    rows = list(_by_span(bounds, segment, MRR_ROLLUPS, CUSTOMER_ROLLUPS))
    counts = _customers(periods, bounds, rows)
    churned = _churned(periods, segment)
    mrr = _mrr(periods, bounds, rows)
    result = []
    for period, count, lost, money in zip(periods, counts, churned, mrr, strict=True):
        count = {**count, "churned": lost}
        churn_rate = ratio(count["churned"], count["start"])
        result.append(
            ChurnKpis(
                period=period,
                customers_start=count["start"],
                customers_end=count["end"],
                churned_customers=count["churned"],
                customer_churn_rate=churn_rate,
                retention_rate=None if churn_rate is None else 1 - churn_rate,
                mrr_start=money["start"],
                mrr_end=money["end"],
                new_mrr=money["new"],
                expansion_mrr=money["expansion"],
                contraction_mrr=money["contraction"],
                churned_mrr=money["churned"],
                reactivation_mrr=money["reactivation"],
                **_bridge(money),
            )
        )
    return result


def churn(*, period: Period, segment: Segment) -> ChurnKpis:
    """Return customer churn, retention and the MRR bridge of a period (2 queries).

    The team and rep filters apply to the company's owner; the channel does not
    apply (a customer has no channel).
    """
    return _churn_many([period], segment)[0]


def churn_series(*, period: Period, segment: Segment) -> tuple[ChurnKpis, ...]:
    """Return ``churn`` for each calendar month of the period (2 queries in all)."""
    return tuple(_churn_many(period.months(), segment))
