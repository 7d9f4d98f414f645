"""The KPI report: every KPI of a period and segment, with its target and attainment.

The API's ``kpis/`` endpoint and the admin dashboard both render this, so they
cannot disagree. Target attainment is ``actual / target`` for the KPI's target
of exactly this period (a calendar month or quarter) and scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from metrics import kpis
from metrics.kpis.registry import KPIS, MONEY, Currencies, Kpi, families
from metrics.models import KpiTarget, PeriodKind, period_end
from metrics.segments import Period, Segment

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
    attainment: Decimal | None = None


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


def targets_for(*, period: Period, segment: Segment) -> dict[str, KpiTarget]:
    """Return the targets that apply to the period and segment (0 or 1 query).

    The scope is the rep when one is chosen, else the team, else the
    organisation when the viewer sees everything. A channel filter matches no
    target (targets are not set per channel), nor does a period that is not a
    whole calendar month or quarter.
    """
    match = target_period(period)
    if match is None or segment.channel:
        return {}
    kind, _ = match
    targets = KpiTarget.objects.filter(period_kind=kind, period_start=period.start)
    if segment.owner is not None:
        targets = targets.filter(owner=segment.owner)
    elif segment.team is not None:
        targets = targets.filter(team=segment.team, owner__isnull=True)
    elif segment.viewer is None or segment.viewer.sees_everything:
        targets = targets.filter(team__isnull=True, owner__isnull=True)
    else:
        return {}
    return {target.kpi: target for target in targets}


def _attainment(
    kpi: Kpi,
    value: int | Decimal | None,
    values: CurrencyValues | None,
    target: KpiTarget | None,
) -> Decimal | None:
    """Return actual / target; a money target compares its own currency."""
    if target is None:
        return None
    if kpi.takes_currency:
        default = Decimal(0) if kpi.currencies is Currencies.SUMMED else None
        value = dict(values or ()).get(target.currency, default)
    if value is None:
        return None
    return kpis.ratio(value, target.value)


def _item(kpi: Kpi, figure, target: KpiTarget | None) -> KpiItem:
    """Return one KPI of the report: ``value``, and ``values`` per currency."""
    value, values = figure, None
    if kpi.unit is MONEY:
        value, values = None, figure
    elif kpi.currencies is Currencies.RATIO_PER_CURRENCY:
        # A ratio mixing currencies would add amounts of different money; with
        # several currencies the rate is reported per currency only.
        values = figure
        value = figure[0][1] if len(figure) == 1 else None
    return KpiItem(
        key=kpi.key,
        label=kpi.label,
        unit=kpi.unit.name,
        better=kpi.better.value,
        value=value,
        values=values,
        target=target.value if target else None,
        target_currency=target.currency if target else "",
        attainment=_attainment(kpi, value, values, target),
    )


def kpi_report(*, period: Period, segment: Segment) -> KpiReport:
    """Return every KPI of the period with its target and attainment.

    Queries: churn 2, leads 5, cold calls 1, deals 3, targets 1 (12 at most),
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
