"""The KPI report: every KPI of a period and segment, with its target and attainment.

The API's ``kpis/`` endpoint and the admin dashboard both render this, so they
cannot disagree. A KPI's target is the one set for this period (a calendar month
or quarter) and scope, or for a quarter the sum of its monthly targets where the
months add up; attainment is ``actual / target`` where more is better, and
"within target" says whether the figure meets it either way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from crm import policy
from metrics import kpis
from metrics.kpis.registry import (
    BY_KEY,
    KPIS,
    MONEY,
    Better,
    Currencies,
    Kpi,
    families,
)
from metrics.models import KpiTarget, PeriodKind, period_end
from metrics.segments import Period, Segment, add_months

CurrencyValues = tuple[tuple[str, Decimal | None], ...]


@dataclass(frozen=True)
class KpiItem:
    """One KPI of the report; money KPIs carry ``values`` per currency."""

    key: str
    label: str
    unit: str
    better: str
    value: int | Decimal | None = None
    values: CurrencyValues | None = None
    target: Decimal | None = None
    target_currency: str = ""
    # True when a quarter's target is the sum of its monthly targets.
    target_from_months: bool = False
    # actual / target, for KPIs where more is better (None where lower is).
    attainment: Decimal | None = None
    # Whether the figure meets the target: at or above it, or, where lower
    # is better, at or below it.
    within_target: bool | None = None


@dataclass(frozen=True)
class KpiReport:
    period: Period
    segment: Segment
    items: tuple[KpiItem, ...]
    churn: kpis.ChurnKpis
    leads: kpis.LeadKpis
    cold_calls: kpis.ColdCallKpis
    deals: kpis.DealKpis

    def item(self, key: str) -> KpiItem:
        return next(item for item in self.items if item.key == key)


def target_period(period: Period) -> tuple[str, Period] | None:
    """Return the (kind, period) of a month or quarter equal to ``period``."""
    start = period.start
    if start.day != 1:
        return None
    for kind in (PeriodKind.MONTH, PeriodKind.QUARTER):
        if kind == PeriodKind.QUARTER and start.month not in (1, 4, 7, 10):
            continue
        if period_end(kind, start) == period.end:
            return kind, period
    return None


@dataclass(frozen=True)
class Target:
    """The target that applies to a report's KPI: set, or summed from months."""

    value: Decimal
    currency: str = ""
    # The monthly targets it adds up, when the quarter has none of its own.
    from_months: bool = False


def _scope(targets, segment: Segment):
    """Narrow ``targets`` to the segment's scope, or return None for none.

    The rep when one is chosen, else the team, else, for a viewer who sees
    everything, the organisation; a manager who picks nothing sees their
    team's targets (their KPIs are their team's), when they manage one team.
    """
    if segment.owner is not None:
        return targets.filter(owner=segment.owner)
    if segment.team is not None:
        return targets.filter(team=segment.team, owner__isnull=True)
    viewer = segment.viewer
    if viewer is None or policy.sees_everything(viewer):
        return targets.filter(team__isnull=True, owner__isnull=True)
    if policy.is_manager(viewer):
        return targets.filter(team__manager=viewer, owner__isnull=True)
    return None


def targets_for(*, period: Period, segment: Segment) -> dict[str, Target]:
    """Return the targets that apply to the period and segment (0 or 1 query).

    A month's targets are those set for it; a quarter's are those set for it,
    else, for a KPI whose months add up (counts and summed money), the sum of
    its three monthly targets when all three are set in one currency. A rate,
    an average or a level applies only to its exact period. A channel filter
    matches no target (targets are not set per channel), nor does a period
    that is not a whole calendar month or quarter.
    """
    match = target_period(period)
    if match is None or segment.channel:
        return {}
    kind, _ = match
    months = [add_months(period.start, n) for n in range(3)]
    wanted = Q(period_kind=kind, period_start=period.start)
    if kind == PeriodKind.QUARTER:
        wanted |= Q(period_kind=PeriodKind.MONTH, period_start__in=months)
    targets = _scope(KpiTarget.objects.filter(wanted), segment)
    if targets is None:
        return {}
    rows = list(targets)
    # A manager of several teams has no single team target to show.
    if len({row.team_id for row in rows}) > 1:
        return {}
    result = {
        row.kpi: Target(row.value, row.currency)
        for row in rows
        if row.period_kind == kind
    }
    monthly: dict[str, list[KpiTarget]] = defaultdict(list)
    for row in rows:
        if row.period_kind != kind:
            monthly[row.kpi].append(row)
    for key, parts in monthly.items():
        kpi = BY_KEY[key]
        same_currency = len({part.currency for part in parts}) == 1
        if key in result or not kpi.adds_up_over_time:
            continue
        if len(parts) == len(months) and same_currency:
            result[key] = Target(
                sum((part.value for part in parts), Decimal(0)),
                parts[0].currency,
                from_months=True,
            )
    return result


def _figure_for_target(
    kpi: Kpi, value, values: CurrencyValues | None, target: Target
) -> int | Decimal | None:
    """Return the figure a target compares: a money target its own currency."""
    if kpi.takes_currency:
        default = Decimal(0) if kpi.currencies is Currencies.SUMMED else None
        return dict(values or ()).get(target.currency, default)
    return value


def _attainment(kpi: Kpi, figure, target: Target | None) -> Decimal | None:
    """Return actual / target, for a KPI where more is better."""
    if target is None or figure is None or kpi.better is Better.LOWER:
        return None
    return kpis.ratio(figure, target.value)


def _within(kpi: Kpi, figure, target: Target | None) -> bool | None:
    """Return whether the figure is on the right side of the target."""
    if target is None or figure is None:
        return None
    if kpi.better is Better.LOWER:
        return figure <= target.value
    return figure >= target.value


def _item(kpi: Kpi, figure, target: Target | None) -> KpiItem:
    """Return one KPI of the report: ``value``, and ``values`` per currency."""
    value, values = figure, None
    if kpi.unit is MONEY:
        value, values = None, figure
    elif kpi.currencies is Currencies.RATIO_PER_CURRENCY:
        # A ratio mixing currencies would add amounts of different money; with
        # several currencies the rate is reported per currency only.
        values = figure
        value = figure[0][1] if len(figure) == 1 else None
    compared = None
    if target is not None:
        compared = _figure_for_target(kpi, value, values, target)
    return KpiItem(
        key=kpi.key,
        label=kpi.label,
        unit=kpi.unit.name,
        better=kpi.better.value,
        value=value,
        values=values,
        target=target.value if target else None,
        target_currency=target.currency if target else "",
        target_from_months=bool(target and target.from_months),
        attainment=_attainment(kpi, compared, target),
        within_target=_within(kpi, compared, target),
    )


def kpi_report(*, period: Period, segment: Segment) -> KpiReport:
    """Return every KPI of the period with its target and attainment.

    Queries: churn 2, leads 7, cold calls 1, deals 3, targets 1 (14 at most),
    plus 1 for the team's members when the segment names a team. Each family
    of the registry runs once, in the registry's order.
    """
    results = {family: family(period=period, segment=segment) for family in families()}
    targets = targets_for(period=period, segment=segment)
    return KpiReport(
        period=period,
        segment=segment,
        items=tuple(
            _item(kpi, kpi.read(results[kpi.family]), targets.get(kpi.key))
            for kpi in KPIS
        ),
        churn=results[kpis.churn],
        leads=results[kpis.lead_kpis],
        cold_calls=results[kpis.cold_call_kpis],
        deals=results[kpis.deal_kpis],
    )
