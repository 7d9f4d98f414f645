"""Customers and churn: customers on a day, customer churn, and the MRR bridge,
read from the customer ledger (``crm.CustomerChange``) and its spells, the MRR
movement ledger (``crm.MrrMovement``) and their rollups.

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

from crm.models import (
    EVERYONE,
    CustomerDaily,
    CustomerMonthly,
    CustomerSpell,
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

    Such a customer's spell (``CustomerSpell``) covers the day before the
    period and ended within it; the query reads only the spells that ended in
    the periods' span (their own index, index-only for the organisation),
    never every customer. One that came back within the period is not lost:
    only when its next spell started by the period's end is it looked up
    (the rare ones), to see whether a spell still runs then. A plan change
    or a second subscription ending is no change at all.
    """
    spells = (
        CustomerSpell.objects.filter(
            segment.owned("company__owner"),
            ended_on__gt=min(p.start for p in periods) - DAY,
            ended_on__lte=max(p.end for p in periods),
        )
        .order_by()
        .values("company_id", "started_on", "ended_on", "returned_on")
    )
    # The counts in SQL around the ORM's query: as ORM aggregates, each
    # period's filter and subquery are compiled anew (40 ms of Python for the
    # 12-month series on the benchmark's machine, twice the query).
    db = router.db_for_read(CustomerSpell)
    connection = connections[db]
    inner, inner_params = spells.query.get_compiler(using=db).as_sql()
    table = connection.ops.quote_name(CustomerSpell._meta.db_table)
    # Back by the period's end: a spell of the company running then.
    back = f"SELECT 1 FROM {table} AS back WHERE back.company_id = spell.company_id"  # noqa: S608  # nosec B608
    lost = (
        "COALESCE(SUM(CASE WHEN spell.started_on <= %s AND spell.ended_on > %s "
        "AND spell.ended_on <= %s AND (spell.returned_on IS NULL "
        "OR spell.returned_on > %s OR NOT EXISTS ("
        + back
        + " AND back.started_on <= %s AND (back.ended_on IS NULL "
        "OR back.ended_on > %s))) THEN 1 ELSE 0 END), 0)"
    )
    params = []
    for period in periods:
        before, end = period.start - DAY, period.end
        params += [before, before, end, end, end, end]
    with connection.cursor() as cursor:
        # The table's own name and the ORM's SQL, dates as parameters: no input.
        cursor.execute(
            f"SELECT {', '.join([lost] * len(periods))} "  # noqa: S608  # nosec B608
            f"FROM ({inner}) AS spell",
            [*params, *inner_params],
        )
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
