"""The sales KPIs, computed in the database: one read-only function per family.

Every function takes keyword-only arguments (a ``Period`` and a ``Segment``),
runs a fixed number of queries whatever the data or the number of reps (the
count is in each docstring), and returns a frozen dataclass. Definitions are
those of docs/metrics.md, which carries a worked example for each.

Conventions: a ratio whose denominator is zero is ``None``; rates are exact
``Decimal`` fractions (rounded only by the interfaces); money is per currency,
a tuple of ``(currency, amount)`` sorted by currency, never summed across
currencies.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DecimalField,
    DurationField,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, TruncMonth
from django.utils import timezone

from crm.models import Company, Subscription
from leads.models import Channel, Lead
from metrics.segments import Period, Segment
from pipeline.models import (
    CONNECTED_OUTCOMES,
    STAGE_INDEX,
    STAGE_ORDER,
    Activity,
    Deal,
    DealStatus,
    Stage,
    StageChange,
    StageRules,
)

Money = tuple[tuple[str, Decimal], ...]

CENT = Decimal("0.01")
COLD_CALL_TO_LEAD_WINDOW = datetime.timedelta(days=30)
# A record whose became_lead_at is within this of its creation was created as a
# lead (services stamp both fields from two clock reads), not as a prospect.
CREATED_AS_LEAD_TOLERANCE = datetime.timedelta(minutes=1)
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


def _units(duration: datetime.timedelta | None, unit: datetime.timedelta) -> Decimal:
    """Return a duration in hours, minutes or days, exactly (no float)."""
    if duration is None:
        return Decimal(0)
    return Decimal(duration // MICROSECONDS) / Decimal(unit // MICROSECONDS)


def _median(queryset: QuerySet, expression, count: int) -> datetime.timedelta | None:
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


class MedianDuration(Aggregate):
    """PostgreSQL's median of a duration, in the aggregate that counts the rows.

    ``percentile_cont(0.5)`` is the middle value, or the two middle values'
    mean for an even count (as ``_median``), to the microsecond.
    """

    function = "PERCENTILE_CONT"
    name = "MedianDuration"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


# --- churn ---------------------------------------------------------------------


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


def _running_on(day: datetime.date, prefix: str = "") -> Q:
    """Return the filter on subscriptions running on ``day`` (see active_on)."""
    return Q(**{f"{prefix}started_on__lte": day}) & (
        Q(**{f"{prefix}ended_on__isnull": True}) | Q(**{f"{prefix}ended_on__gt": day})
    )


def customers_on(*, day: datetime.date, segment: Segment) -> int:
    """Return the number of customers on ``day`` (1 query)."""
    return (
        Company.objects.filter(segment.owned("owner"))
        .filter(
            Exists(
                Subscription.objects.filter(company=OuterRef("pk")).filter(
                    _running_on(day)
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
            Case(When(_running_on(day), then=Value(1)), default=Value(0)),
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
            "start": _running_on(p.start),
            "end": _running_on(p.end),
            # Started after the first day and still running on the last.
            "new": Q(started_on__gt=p.start) & _running_on(p.end),
            # Running on the first day, ended by the last.
            "churned": _running_on(p.start) & Q(ended_on__lte=p.end),
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


# --- leads and prospects -------------------------------------------------------


@dataclass(frozen=True)
class LeadKpis:
    """New leads, their qualification and response time (docs/metrics.md, "Leads")."""

    new_leads: int
    by_channel: tuple[tuple[str, int], ...]
    by_source: tuple[tuple[str, int], ...]
    # (offer id or None, offer title or "", count)
    by_offer: tuple[tuple[int | None, str, int], ...]
    prospects_added: int
    qualified_by_end: int
    lead_to_qualified_rate: Decimal | None
    median_hours_to_qualify: Decimal | None
    inbound_leads_answered: int
    median_lead_response_minutes: Decimal | None


def _rollup(rows: list[dict], *keys: str) -> tuple:
    """Sum the grouped rows' ``n`` over the distinct values of ``keys``."""
    totals: dict = defaultdict(int)
    for row in rows:  # aggregated rows (channel x source x offer), not leads
        totals[tuple(row[key] for key in keys)] += row["n"]
    return tuple((*key, n) for key, n in sorted(totals.items(), key=str))


def lead_kpis(*, period: Period, segment: Segment) -> LeadKpis:
    """Return new leads, prospects added, qualification and response time.

    Four queries at most: new leads grouped by channel x source x offer (with
    those qualified by ``end``), prospects added with inbound leads answered
    (and, on PostgreSQL, their median response time), then one ordered OFFSET
    query per remaining median (skipped when nothing to rank).
    """
    start_at, end_at = period.bounds()
    leads = Lead.objects.filter(segment.owned("owner"), segment.on_channel("channel"))
    new_leads = leads.filter(became_lead_at__gte=start_at, became_lead_at__lt=end_at)
    # Not "qualified_at IS NOT NULL AND qualified_at < end": the planner
    # multiplies the two clauses' selectivities (both count the NULLs) and
    # expects a tenth of the rows, then prefers the qualified_at index.
    qualified = Q(qualified_at__lt=end_at)
    # Counting columns of the lead_became_lead index (NULLs are not counted)
    # rather than the primary key keeps this an index-only scan.
    rows = list(
        new_leads.values("channel", "source", "offer", "offer__title")
        .annotate(
            n=Count("became_lead_at"),
            qualified=Count("qualified_at", filter=qualified),
        )
        .order_by()
    )
    total = sum(row["n"] for row in rows)
    qualified_count = sum(row["qualified"] for row in rows)

    # The lead's first activity time is kept on the lead by the activity
    # service (pipeline.services.activity_log: the earliest occurred_at, even
    # for a backdated activity), so no subquery into the activities per lead.
    created = leads.filter(created_at__gte=start_at, created_at__lt=end_at)
    answered = Q(channel=Channel.INBOUND, first_activity_at__isnull=False)
    response_time = F("first_activity_at") - F("created_at")
    # On PostgreSQL the response median comes with the counts, in the same
    # pass over the period's leads; elsewhere it is one OFFSET query more.
    in_one_pass = connections[created.db].vendor == "postgresql"
    counts = created.aggregate(
        prospects=Count(
            "created_at",
            filter=Q(became_lead_at__isnull=True)
            | Q(became_lead_at__gt=F("created_at") + CREATED_AS_LEAD_TOLERANCE),
        ),
        answered=Count("created_at", filter=answered),
        **(
            {"response": MedianDuration(response_time, filter=answered)}
            if in_one_pass
            else {}
        ),
    )

    to_qualify = _median(
        new_leads.filter(qualified),
        F("qualified_at") - F("became_lead_at"),
        qualified_count,
    )
    if in_one_pass:
        response = counts["response"]
    else:
        response = _median(created.filter(answered), response_time, counts["answered"])
    hour, minute = datetime.timedelta(hours=1), datetime.timedelta(minutes=1)
    return LeadKpis(
        new_leads=total,
        by_channel=_rollup(rows, "channel"),
        by_source=_rollup(rows, "source"),
        by_offer=_rollup(rows, "offer", "offer__title"),
        prospects_added=counts["prospects"],
        qualified_by_end=qualified_count,
        lead_to_qualified_rate=ratio(qualified_count, total),
        median_hours_to_qualify=None
        if to_qualify is None
        else _units(to_qualify, hour),
        inbound_leads_answered=counts["answered"],
        median_lead_response_minutes=(
            None if response is None else _units(response, minute)
        ),
    )


@dataclass(frozen=True)
class ColdCallKpis:
    cold_calls: int
    connected: int
    connect_rate: Decimal | None
    became_leads: int


def cold_call_kpis(*, period: Period, segment: Segment) -> ColdCallKpis:
    """Return cold calls made, their connect rate and prospects won over (1 query).

    The team and rep filters apply to the caller. A cold call is outbound by
    definition, so the inbound channel has none.
    """
    if segment.channel == Channel.INBOUND:
        return ColdCallKpis(
            cold_calls=0, connected=0, connect_rate=None, became_leads=0
        )
    start_at, end_at = period.bounds()
    # The called lead joined only when it became a lead in the calls' window:
    # a call of [start, end) counts a lead that became one within 30 days of
    # it, so between start and end + 30 days. On PostgreSQL those leads are an
    # index-only range scan of lead_became_lead (it carries the id), hashed to
    # the period's cold calls, instead of one primary-key probe per call (or,
    # for a plain join to the nullable lead, a sequential scan of every lead).
    row = (
        Activity.objects.cold_calls()
        .filter(
            segment.owned("owner"), occurred_at__gte=start_at, occurred_at__lt=end_at
        )
        .alias(
            lead_in_window=FilteredRelation(
                "lead",
                condition=Q(
                    lead__became_lead_at__gte=start_at,
                    lead__became_lead_at__lt=end_at + COLD_CALL_TO_LEAD_WINDOW,
                ),
            )
        )
        # Counting occurred_at (never NULL) rather than the primary key keeps
        # the calls an index-only scan of activity_cold_call_at (or its per-rep
        # twin), which carries the lead and the outcome.
        .aggregate(
            calls=Count("occurred_at"),
            connected=Count("occurred_at", filter=Q(outcome__in=CONNECTED_OUTCOMES)),
            became_leads=Count(
                "lead_in_window",
                distinct=True,
                filter=Q(
                    lead_in_window__became_lead_at__gte=F("occurred_at"),
                    lead_in_window__became_lead_at__lte=F("occurred_at")
                    + COLD_CALL_TO_LEAD_WINDOW,
                ),
            ),
        )
    )
    return ColdCallKpis(
        cold_calls=row["calls"],
        connected=row["connected"],
        connect_rate=ratio(row["connected"], row["calls"]),
        became_leads=row["became_leads"],
    )


# --- deals ---------------------------------------------------------------------


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


def _closed(period: Period, segment: Segment) -> QuerySet:
    start_at, end_at = period.bounds()
    # Only won and lost deals have a closed_at (reopening clears it); naming
    # the statuses lets the planner range-scan deal_status_closed (status,
    # closed_at) rather than read every deal.
    return Deal.objects.filter(
        segment.owned("owner"),
        segment.on_channel("channel"),
        status__in=CLOSED,
        closed_at__gte=start_at,
        closed_at__lt=end_at,
    )


def _open_on(moment: datetime.datetime, segment: Segment) -> tuple[StageRow, ...]:
    """Return open deals per stage and currency at ``moment`` (2 queries).

    A deal's stage and status at a moment are those of its last StageChange
    before it (so reopened and moved-back deals count where they were); a
    deal with no history then counts in its current stage. Amount and the
    deal's own probability are current values (they have no history).
    """
    rules = StageRules.load()
    last = StageChange.objects.filter(
        deal=OuterRef("pk"), changed_at__lt=moment
    ).order_by("-changed_at", "-pk")
    rows = (
        Deal.objects.filter(segment.owned("owner"), segment.on_channel("channel"))
        # Closed before the moment and never reopened since: closed at it.
        .filter(created_at__lt=moment)
        # Statuses named for the deal_status_closed (status, closed_at) index.
        .filter(Q(status=DealStatus.OPEN) | Q(status__in=CLOSED, closed_at__gte=moment))
        .annotate(
            stage_then=Coalesce(Subquery(last.values("to_stage")[:1]), F("stage")),
            status_then=Coalesce(
                Subquery(last.values("to_status")[:1]), Value(DealStatus.OPEN)
            ),
        )
        .filter(status_then=DealStatus.OPEN)
        .values("stage_then", "currency")
        .annotate(
            deals=Count("pk"),
            # Not named "amount": it would shadow the column in the next Sums.
            total_amount=Sum("amount", output_field=MONEY_SUM),
            # Within a group the stage is fixed, so the stage's probability is
            # applied here rather than by a CASE on the stage subquery in SQL.
            own_probability_x100=Sum(
                F("amount") * F("probability"),
                filter=Q(probability__isnull=False),
                output_field=MONEY_SUM,
            ),
            stage_probability_amount=Sum(
                "amount", filter=Q(probability__isnull=True), output_field=MONEY_SUM
            ),
        )
        .order_by()
    )
    return tuple(
        sorted(
            (
                StageRow(
                    stage=row["stage_then"],
                    currency=row["currency"],
                    deals=row["deals"],
                    amount=row["total_amount"],
                    # Kept unrounded until the totals are summed.
                    weighted_amount=(
                        (row["own_probability_x100"] or 0)
                        + (row["stage_probability_amount"] or 0)
                        * rules.probability[row["stage_then"]]
                    )
                    / 100,
                )
                for row in rows
            ),
            key=lambda r: (STAGE_INDEX[r.stage], r.currency),
        )
    )


def _per_currency(rows: tuple[StageRow, ...], field: str) -> Money:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:  # at most 5 stages x currencies
        totals[row.currency] += getattr(row, field)
    return tuple((c, to_cents(v)) for c, v in sorted(totals.items()))


def deal_kpis(*, period: Period, segment: Segment) -> DealKpis:
    """Return win rate, revenue, deal size, cycle, pipeline and velocity (3 queries).

    Closed deals: those whose current status is won or lost and ``closed_at``
    falls in the period (a reopened deal counts by its last closing only; a
    reopened deal still open is not closed). Pipeline: deals open on ``end``.
    """
    closed = list(
        _closed(period, segment)
        .values("currency")
        .annotate(
            won=Count("pk", filter=Q(status=DealStatus.WON)),
            lost=Count("pk", filter=Q(status=DealStatus.LOST)),
            revenue=Sum(
                "amount", filter=Q(status=DealStatus.WON), output_field=MONEY_SUM
            ),
            cycle=Sum(
                F("closed_at") - F("created_at"),
                filter=Q(status=DealStatus.WON),
                output_field=DurationField(),
            ),
        )
        .order_by("currency")
    )
    won = sum(row["won"] for row in closed)
    lost = sum(row["lost"] for row in closed)
    win_rate = ratio(won, won + lost)
    revenue = tuple((r["currency"], r["revenue"]) for r in closed if r["won"])
    size = {r["currency"]: r["revenue"] / r["won"] for r in closed if r["won"]}
    cycle_total = sum((r["cycle"] for r in closed if r["won"]), datetime.timedelta())
    cycle_days = ratio(_units(cycle_total, datetime.timedelta(days=1)), won)

    _, end_at = period.bounds()
    open_rows = _open_on(end_at, segment)
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


# --- funnel --------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStage:
    stage: str
    label: str
    reached: int
    # Share of the previous stage's deals that reached this one (None first).
    conversion_from_previous: Decimal | None


@dataclass(frozen=True)
class Funnel:
    """Deals created in the period, how deep they ever went, and the open pipeline."""

    created: int
    stages: tuple[FunnelStage, ...]
    won: int
    open_on_end: tuple[StageRow, ...]


def _depth(field: str) -> Case:
    return Case(
        *(When(**{field: stage}, then=Value(i)) for stage, i in STAGE_INDEX.items()),
        output_field=IntegerField(),
    )


def funnel(*, period: Period, segment: Segment) -> Funnel:
    """Return the funnel of the deals created in the period (3 queries).

    Each deal's depth is the deepest stage in its whole StageChange history
    (or its current stage, if deeper), so a deal that skipped a stage passed
    it, one that went back and forth counts once, and counts never grow down
    the funnel. One GROUP BY depth, then cumulative sums over at most 5 rows.
    """
    start_at, end_at = period.bounds()
    history_depth = Subquery(
        StageChange.objects.filter(deal=OuterRef("pk"))
        .order_by()
        .values("deal")
        .annotate(depth=Max(_depth("to_stage")))
        .values("depth"),
        output_field=IntegerField(),
    )
    rows = list(
        Deal.objects.filter(
            segment.owned("owner"),
            segment.on_channel("channel"),
            created_at__gte=start_at,
            created_at__lt=end_at,
        )
        .annotate(depth=Greatest(Coalesce(history_depth, Value(-1)), _depth("stage")))
        .values("depth")
        .annotate(n=Count("pk"), won=Count("pk", filter=Q(status=DealStatus.WON)))
        .order_by()
    )
    at_depth = {row["depth"]: row["n"] for row in rows}
    stages, previous = [], None
    for i, stage in enumerate(STAGE_ORDER):
        reached = sum(n for depth, n in at_depth.items() if depth >= i)
        stages.append(
            FunnelStage(
                stage=stage.value,
                label=Stage(stage).label,
                reached=reached,
                conversion_from_previous=(
                    None if previous is None else ratio(reached, previous)
                ),
            )
        )
        previous = reached
    return Funnel(
        created=sum(at_depth.values()),
        stages=tuple(stages),
        won=sum(row["won"] for row in rows),
        open_on_end=_open_on(end_at, segment),
    )


# --- series for the dashboard --------------------------------------------------


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
    rows = list(
        _closed(period, segment)
        .values(
            "owner",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
            "currency",
        )
        .annotate(
            won=Count("pk", filter=Q(status=DealStatus.WON)),
            lost=Count("pk", filter=Q(status=DealStatus.LOST)),
            revenue=Sum(
                "amount", filter=Q(status=DealStatus.WON), output_field=MONEY_SUM
            ),
        )
        .order_by("owner__username", "currency")
    )
    by_owner: dict[int, dict] = {}
    for row in rows:  # one row per rep and currency
        rep = by_owner.setdefault(
            row["owner"],
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


def new_leads_by_month(
    *, period: Period, segment: Segment
) -> tuple[tuple[datetime.date, str, int], ...]:
    """Return (month, channel, new leads) over the period (1 query)."""
    start_at, end_at = period.bounds()
    rows = (
        Lead.objects.filter(
            segment.owned("owner"),
            segment.on_channel("channel"),
            became_lead_at__gte=start_at,
            became_lead_at__lt=end_at,
        )
        .annotate(
            month=TruncMonth("became_lead_at", tzinfo=timezone.get_default_timezone())
        )
        .values("month", "channel")
        .annotate(n=Count("pk"))
        .order_by("month", "channel")
    )
    return tuple(
        (timezone.localtime(row["month"]).date(), row["channel"], row["n"])
        for row in rows
    )
