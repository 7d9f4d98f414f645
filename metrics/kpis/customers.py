"""Customers and churn: customers on a day, customer churn, the MRR bridge."""

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
    Sum,
    Value,
    When,
)

from crm.models import Company, Subscription
from metrics.kpis.numbers import MONEY_SUM, Money, ratio, to_cents
from metrics.segments import Period, Segment


@dataclass(frozen=True)
class ChurnKpis:
    """Customers and MRR over one period (see docs/metrics.md, "Churn")."""

    period: Period
    customers_start: int
    customers_end: int
    churned_customers: int
    customer_churn_rate: Decimal | None
    retention_rate: Decimal | None
    mrr_start: Money
    mrr_end: Money
    new_mrr: Money
    churned_mrr: Money
    gross_mrr_churn_rate: tuple[tuple[str, Decimal | None], ...]


def running_on(day: datetime.date) -> Q:
    """Return the filter on subscriptions running on ``day``.

    Started on or before it and not ended on or before it: a subscription that
    ended on a day is not running that day. A ``Q`` rather than a queryset
    method, because the KPIs use it inside conditional aggregates.
    """
    return Q(started_on__lte=day) & (Q(ended_on__isnull=True) | Q(ended_on__gt=day))


def customers_on(*, day: datetime.date, segment: Segment) -> int:
    """Return the number of customers on ``day`` (1 query)."""
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
    """Count customers on each start, on each end, and lost in between (1 query).

    The subscriptions that overlap the whole span are grouped by company once,
    with one conditional ``MAX`` per distinct boundary day (1 when one of the
    company's subscriptions runs that day); the outer query then counts the
    companies per figure. One pass over the span's subscriptions, however many
    months: no correlated subquery per company and day.
    """
    days = sorted({p.start for p in periods} | {p.end for p in periods})
    column = {day: f"on_{i}" for i, day in enumerate(days)}
    running = {
        column[day]: Max(
            Case(When(running_on(day), then=Value(1)), default=Value(0)),
            output_field=IntegerField(),
        )
        for day in days
    }
    aggregates = {}
    for n, p in enumerate(periods):
        on_start, on_end = column[p.start], column[p.end]
        aggregates[f"start_{n}"] = Count("company", filter=Q(**{on_start: 1}))
        aggregates[f"end_{n}"] = Count("company", filter=Q(**{on_end: 1}))
        aggregates[f"churned_{n}"] = Count(
            "company", filter=Q(**{on_start: 1, on_end: 0})
        )
    row = (
        Subscription.objects.filter(segment.owned("company__owner"))
        # Running on at least one day of the span [first day, last day].
        .filter(started_on__lte=days[-1])
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=days[0]))
        .values("company")
        .annotate(**running)
        .order_by()
        .aggregate(**aggregates)
    )
    return [
        {
            "start": row[f"start_{n}"],
            "end": row[f"end_{n}"],
            "churned": row[f"churned_{n}"],
        }
        for n in range(len(periods))
    ]


def _mrr(periods: list[Period], segment: Segment) -> list[dict[str, Money]]:
    """Sum MRR on start, on end, new and churned, per currency (1 query)."""
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    sums = {}
    for n, p in enumerate(periods):
        figures = {
            "start": running_on(p.start),
            "end": running_on(p.end),
            # Started after the first day and still running on the last.
            "new": Q(started_on__gt=p.start) & running_on(p.end),
            # Running on the first day, ended by the last.
            "churned": running_on(p.start) & Q(ended_on__lte=p.end),
        }
        for name, condition in figures.items():
            sums[f"{name}_{n}"] = Sum("mrr", filter=condition, output_field=MONEY_SUM)
    rows = list(
        Subscription.objects.filter(segment.owned("company__owner"))
        .filter(started_on__lte=last)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=first))
        .values("currency")
        .annotate(**sums)
        .order_by("currency")
    )
    return [
        {
            name: tuple(
                (row["currency"], to_cents(row[f"{name}_{n}"] or Decimal(0)))
                for row in rows
            )
            for name in ("start", "end", "new", "churned")
        }
        for n in range(len(periods))
    ]


def _churn_many(periods: list[Period], segment: Segment) -> list[ChurnKpis]:
    counts = _customer_counts(periods, segment)
    mrr = _mrr(periods, segment)
    result = []
    for period, count, money in zip(periods, counts, mrr, strict=True):
        churn_rate = ratio(count["churned"], count["start"])
        start_by_currency = dict(money["start"])
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
                churned_mrr=money["churned"],
                gross_mrr_churn_rate=tuple(
                    (currency, ratio(lost, start_by_currency[currency]))
                    for currency, lost in money["churned"]
                ),
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
