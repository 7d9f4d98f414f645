"""Customers and churn: customers on a day, customer churn, and the MRR bridge
read from the MRR movement ledger (``crm.MrrMovement``).

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

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from crm.models import (
    EVERYONE,
    Company,
    MovementKind,
    MrrDaily,
    MrrMonthly,
    Subscription,
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


def running_on(day: datetime.date) -> Q:
    """Return the filter on subscriptions running on ``day`` (at its end).

    Started on or before it and not ended on or before it: a subscription that
    ended on a day is not running that day. A ``Q`` rather than a queryset
    method, because the KPIs use it inside conditional aggregates.
    """
    return Q(started_on__lte=day) & (Q(ended_on__isnull=True) | Q(ended_on__gt=day))


def customers_on(*, day: datetime.date, segment: Segment) -> int:
    """Return the number of customers on ``day`` (at its end; 1 query)."""
    return (
        Company.objects.filter(segment.owned("owner"))
        .filter(
            Exists(
                Subscription.objects.filter(company=OuterRef("pk")).filter(
                    running_on(day)
                )
            )
        )
        .count()
    )


def _customer_counts(periods: list[Period], segment: Segment) -> list[dict[str, int]]:
    """Count customers at each start, at each end, and lost in between (1 query).

    A period's start is the end of the day before its first day. The
    subscriptions that overlap the whole span are grouped by company once,
    with one conditional ``MAX`` per distinct boundary day (1 when one of the
    company's subscriptions runs at the end of that day); the outer query then
    counts the companies per figure. A customer is lost when none of its
    subscriptions runs any more (a plan change or a second subscription
    ending is not churn); one that left and came back within the period is
    not lost.
    """
    days = sorted({p.start - DAY for p in periods} | {p.end for p in periods})
    column = {day: f"on_{i}" for i, day in enumerate(days)}
    running = {
        column[day]: Max(
            Case(When(running_on(day), then=Value(1)), default=Value(0)),
            output_field=IntegerField(),
        )
        for day in days
    }
    # Customers on each boundary day once (a month's end is the next one's
    # start), and those lost in each period.
    aggregates = {
        f"n_{on}": Count("company", filter=Q(**{on: 1})) for on in column.values()
    }
    for n, p in enumerate(periods):
        on_start, on_end = column[p.start - DAY], column[p.end]
        aggregates[f"churned_{n}"] = Count(
            "company", filter=Q(**{on_start: 1, on_end: 0})
        )
    row = (
        Subscription.objects.filter(segment.owned("company__owner"))
        # Running at the end of at least one day of the span.
        .filter(started_on__lte=days[-1])
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=days[0]))
        .values("company")
        .annotate(**running)
        .order_by()
        .aggregate(**aggregates)
    )
    return [
        {
            "start": row[f"n_{column[p.start - DAY]}"],
            "end": row[f"n_{column[p.end]}"],
            "churned": row[f"churned_{n}"],
        }
        for n, p in enumerate(periods)
    ]


# The bridge's movement figures: (name, ledger kind, sign making it positive).
MOVEMENTS = (
    ("new", MovementKind.NEW, 1),
    ("expansion", MovementKind.EXPANSION, 1),
    ("contraction", MovementKind.CONTRACTION, -1),
    ("churned", MovementKind.CHURN, -1),
    ("reactivation", MovementKind.REACTIVATION, 1),
)


def _mrr(periods: list[Period], segment: Segment) -> list[dict[str, Money]]:
    """Sum the ledger per currency: MRR at start and end, each movement (1 query).

    MRR at a moment is the sum of every movement effective before it. The
    query reads the ledger's rollups, summed per currency, kind and span
    between consecutive period bounds (one ``CASE`` on the day or month,
    whatever the number of periods); each period's figures are then sums of
    those few spans. Whole months come from the monthly rollup
    (``crm.MrrMonthly``; for the whole organisation its ``EVERYONE`` rows),
    and only the months a bound splits (a period starting or ending mid-month)
    from the daily one (``crm.MrrDaily``): a few rows per month and kind,
    however many customers, movements or reps.
    """
    # Span i holds the days in [bounds[i - 1], bounds[i]); span 0 everything
    # before the first bound.
    bounds = sorted({p.start for p in periods} | {p.end + DAY for p in periods})
    rows = _mrr_by_span(bounds, segment)
    # sums[currency][kind][i]: the movements of that kind in span i.
    sums: dict[str, dict[str, list[Decimal]]] = {}
    for row in rows:  # at most currencies x kinds x spans
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


def _mrr_by_span(bounds: list[datetime.date], segment: Segment) -> QuerySet:
    """The MRR rollups summed per currency, kind and span (span i: the days
    in [bounds[i - 1], bounds[i]), span 0 every day before bounds[0]).

    Whole months from the monthly rollup; the months a bound splits (one
    not on a month's first day), day by day from the daily one.
    """
    split = sorted({bound.replace(day=1) for bound in bounds if bound.day != 1})

    def summed(rows: QuerySet, field: str) -> QuerySet:
        span = Case(
            *(
                When(**{f"{field}__lt": b, "then": Value(i)})
                for i, b in enumerate(bounds)
            ),
            output_field=IntegerField(),
        )
        return (
            rows.values("currency", "kind", span=span)
            .annotate(total=Sum("amount", output_field=MONEY_SUM))
            .order_by()
        )

    months = MrrMonthly.objects.filter(
        segment.owned("owner_id") or Q(owner_id=EVERYONE), month__lt=bounds[-1]
    ).exclude(month__in=split)
    if not split:
        return summed(months, "month")
    in_split = Q()
    for month in split:
        in_split |= Q(day__gte=month, day__lt=_next_month(month))
    days = MrrDaily.objects.filter(in_split, segment.owned("owner"), day__lt=bounds[-1])
    return summed(months, "month").union(summed(days, "day"), all=True)


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
    counts = _customer_counts(periods, segment)
    mrr = _mrr(periods, segment)
    result = []
    for period, count, money in zip(periods, counts, mrr, strict=True):
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
