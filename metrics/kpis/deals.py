"""Deals: win rate, revenue, deal size, cycle, the pipeline on a day, per rep."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    DurationField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from crm.models import EVERYONE, User
from metrics.kpis.numbers import MONEY_SUM, Money, in_units, ratio, to_cents
from metrics.segments import Period, Segment
from pipeline.models import (
    ALL_MONTHS,
    STAGE_INDEX,
    DealCloseDaily,
    DealStatus,
    PipelineDaily,
    PipelineMonthly,
    StageRules,
)


@dataclass(frozen=True)
class StageRow:
    """Open deals in one stage on ``end``, in one currency."""

    stage: str
    currency: str
    deals: int
    amount: Decimal
    weighted_amount: Decimal


@dataclass(frozen=True)
class DealKpis:
    """Closed deals of the period and the pipeline on its end (docs/metrics.md)."""

    won: int
    lost: int
    win_rate: Decimal | None
    revenue_won: Money
    average_deal_size: Money
    average_sales_cycle_days: Decimal | None
    open_deals: int
    pipeline_value: Money
    weighted_pipeline: Money
    sales_velocity_per_day: tuple[tuple[str, Decimal | None], ...]
    open_by_stage: tuple[StageRow, ...]


CLOSED = (DealStatus.WON, DealStatus.LOST)


def closed_in(period: Period, segment: Segment, *, per_owner: bool = False) -> QuerySet:
    """Return the closes of the period as they stood at its end, from the rollup.

    ``pipeline.DealCloseDaily`` holds each win or loss on its day and each
    reopening, negated, on its own day with the day of the close it undid
    (``closed_on``). The rows closed in the period and dated up to its end
    count each deal once, by the close that stood at the end: a reopening in
    the period cancels its close, a later one is not read. The whole
    organisation reads its own rows (a few a day, however many reps), unless
    the caller groups them ``per_owner``.
    """
    owners = segment.owned("owner_id")
    if per_owner:
        owners &= ~Q(owner_id=EVERYONE)
    return DealCloseDaily.objects.filter(
        owners or Q(owner_id=EVERYONE),
        segment.on_channel("channel"),
        closed_on__gte=period.start,
        closed_on__lte=period.end,
        day__lte=period.end,
    )


def _closed_sums() -> dict:
    won = Q(status=DealStatus.WON)
    return {
        "won": Coalesce(Sum("deals", filter=won), 0),
        "lost": Coalesce(Sum("deals", filter=Q(status=DealStatus.LOST)), 0),
        "revenue": Sum("amount", filter=won, output_field=MONEY_SUM),
        "cycle_total": Sum("cycle", filter=won, output_field=DurationField()),
    }


def open_on(day: datetime.date, segment: Segment) -> tuple[StageRow, ...]:
    """Return open deals per stage and currency at the end of ``day`` (1 query).

    A deal's stage and status then are those of its last StageChange by that
    day's end (so reopened and moved-back deals count where they were); a
    deal with no history counts in its current stage from its creation to
    its close. Amount and the deal's own probability are current values
    (they have no history).

    Read from the pipeline rollups: the running total (every change so far)
    less the months after ``day``'s and the days after it in its month. A
    few rows per owner and stage, however long the history (for the whole
    organisation, its own rows: a few per stage however many reps): summing
    every daily row up to the day read most of its 680k rows at a million
    leads, and per-deal probes of the history grew with the deals (measured:
    docs/benchmarks.md, "The open pipeline from a running total").
    """
    rules = StageRules.load()
    month = day.replace(day=1)
    next_month = (month + datetime.timedelta(days=31)).replace(day=1)
    # Signed so that one sum per group gives the pipeline at the day's end.
    # The running total's month is after every other: "after" includes it.
    sign = Case(When(month=ALL_MONTHS, then=Value(1)), default=Value(-1))
    owners = segment.owned("owner_id") or Q(owner_id=EVERYONE)
    months = PipelineMonthly.objects.filter(
        owners, segment.on_channel("channel"), month__gt=month
    ).annotate(sign=sign)
    days = PipelineDaily.objects.filter(
        segment.owned("owner"),
        segment.on_channel("channel"),
        day__gt=day,
        day__lt=next_month,
    ).annotate(sign=Value(-1))
    rows = _pipeline_sums(months).union(_pipeline_sums(days), all=True)
    totals: dict[tuple[str, str], list] = {}
    for stage, currency, *sums in rows:  # at most 2 x 5 stages x currencies
        # Money stays Decimal even when a sum is zero (a falsy Decimal("0")
        # replaced by the int 0 made the weighted pipeline a float).
        group = totals.setdefault((stage, currency), [0, *[Decimal(0)] * 3])
        for i, value in enumerate(sums):
            if value is not None:
                group[i] += value
    return tuple(
        sorted(
            (
                StageRow(
                    stage=stage,
                    currency=currency,
                    deals=deals,
                    amount=amount,
                    # Kept unrounded until the totals are summed.
                    weighted_amount=(
                        own_probability_x100
                        + stage_probability_amount * rules.probability[stage]
                    )
                    / 100,
                )
                for (stage, currency), (
                    deals,
                    amount,
                    own_probability_x100,
                    stage_probability_amount,
                ) in totals.items()
                if deals
            ),
            key=lambda r: (STAGE_INDEX[r.stage], r.currency),
        )
    )


def _pipeline_sums(rows: QuerySet) -> QuerySet:
    """Sum signed pipeline rollup rows per stage and currency."""
    return (
        rows.order_by()
        .values("stage", "currency")
        .annotate(
            n=Sum(F("sign") * F("deals")),
            total=Sum(F("sign") * F("amount"), output_field=MONEY_SUM),
            own=Sum(F("sign") * F("probability_amount"), output_field=MONEY_SUM),
            by_stage=Sum(
                F("sign") * F("stage_probability_amount"), output_field=MONEY_SUM
            ),
        )
        .values_list("stage", "currency", "n", "total", "own", "by_stage")
    )


def _per_currency(rows: tuple[StageRow, ...], field: str) -> Money:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:  # at most 5 stages x currencies
        totals[row.currency] += getattr(row, field)
    return tuple((c, to_cents(v)) for c, v in sorted(totals.items()))


def deal_kpis(*, period: Period, segment: Segment) -> DealKpis:
    """Return win rate, revenue, deal size, cycle, pipeline and velocity (3 queries).

    Closed deals: those whose close stood at the end of the period, from the
    rollup of the stage history (``closed_in``). Pipeline: deals open at the
    end of ``end``, from the same history, so each deal is either open or
    closed then.
    """
    closed = list(
        closed_in(period, segment)
        .values("currency")
        .annotate(**_closed_sums())
        .order_by("currency")
    )
    won = sum(row["won"] for row in closed)
    lost = sum(row["lost"] for row in closed)
    win_rate = ratio(won, won + lost)
    revenue = tuple((r["currency"], r["revenue"]) for r in closed if r["won"])
    size = {r["currency"]: r["revenue"] / r["won"] for r in closed if r["won"]}
    cycle_total = sum(
        (r["cycle_total"] for r in closed if r["won"]), datetime.timedelta()
    )
    cycle_days = ratio(in_units(cycle_total, datetime.timedelta(days=1)), won)

    open_rows = open_on(period.end, segment)
    open_by_currency: dict[str, int] = defaultdict(int)
    for row in open_rows:
        open_by_currency[row.currency] += row.deals
    velocity = []
    for currency in sorted(set(open_by_currency) | set(size)):
        value = None
        if win_rate is not None and cycle_days and currency in size:
            value = to_cents(
                open_by_currency[currency] * size[currency] * win_rate / cycle_days
            )
        velocity.append((currency, value))
    return DealKpis(
        won=won,
        lost=lost,
        win_rate=win_rate,
        revenue_won=revenue,
        average_deal_size=tuple((c, to_cents(v)) for c, v in sorted(size.items())),
        average_sales_cycle_days=cycle_days,
        open_deals=sum(open_by_currency.values()),
        pipeline_value=_per_currency(open_rows, "amount"),
        weighted_pipeline=_per_currency(open_rows, "weighted_amount"),
        sales_velocity_per_day=tuple(velocity),
        open_by_stage=open_rows,
    )


@dataclass(frozen=True)
class RepPerformance:
    owner_id: int
    name: str
    won: int
    lost: int
    win_rate: Decimal | None
    revenue_won: Money


def rep_performance(*, period: Period, segment: Segment) -> tuple[RepPerformance, ...]:
    """Return win rate and revenue won per rep over the period (1 query)."""
    # The rollup keeps the owner's id (or 0 for everyone), not a foreign key:
    # the rep's names are read per grouped row, in the same query.
    user = User.objects.filter(pk=OuterRef("owner_id"))
    rows = list(
        closed_in(period, segment, per_owner=True)
        .values("owner_id", "currency")
        .annotate(**_closed_sums())
        .annotate(
            **{
                f"owner__{name}": Subquery(user.values(name))
                for name in ("username", "first_name", "last_name")
            }
        )
        .order_by("owner__username", "currency")
    )
    by_owner: dict[int, dict] = {}
    for row in rows:  # one row per rep and currency
        if not (row["won"] or row["lost"]):
            continue  # closes reopened within the period: none stood
        rep = by_owner.setdefault(
            row["owner_id"],
            {
                "name": f"{row['owner__first_name']} {row['owner__last_name']}".strip()
                or row["owner__username"],
                "won": 0,
                "lost": 0,
                "revenue": [],
            },
        )
        rep["won"] += row["won"]
        rep["lost"] += row["lost"]
        if row["won"]:
            rep["revenue"].append((row["currency"], row["revenue"]))
    return tuple(
        RepPerformance(
            owner_id=owner_id,
            name=rep["name"],
            won=rep["won"],
            lost=rep["lost"],
            win_rate=ratio(rep["won"], rep["won"] + rep["lost"]),
            revenue_won=tuple(rep["revenue"]),
        )
        for owner_id, rep in by_owner.items()
    )
