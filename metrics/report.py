"""The KPI report: every KPI of a period and segment, with its target and attainment.

The API's ``kpis/`` endpoint and the admin dashboard both render this, so they
cannot disagree. Target attainment is ``actual / target`` for the KPI's target
of exactly this period (a calendar month or quarter) and scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from metrics import kpis
from metrics.models import MONEY_KPIS, KpiKey, KpiTarget, PeriodKind, period_end
from metrics.segments import Period, Segment

# Money KPIs that are sums: a currency with no rows is a real zero. The others
# (averages, velocity) have no value in a currency with no rows.
SUMMED_MONEY = frozenset(
    {
        KpiKey.MRR_START,
        KpiKey.MRR_END,
        KpiKey.NEW_MRR,
        KpiKey.CHURNED_MRR,
        KpiKey.REVENUE_WON,
        KpiKey.PIPELINE_VALUE,
        KpiKey.WEIGHTED_PIPELINE,
    }
)

UNITS: dict[str, str] = {
    KpiKey.CUSTOMER_CHURN_RATE: "rate",
    KpiKey.RETENTION_RATE: "rate",
    KpiKey.GROSS_MRR_CHURN_RATE: "rate",
    KpiKey.NEW_LEADS: "count",
    KpiKey.PROSPECTS_ADDED: "count",
    KpiKey.LEAD_TO_QUALIFIED_RATE: "rate",
    KpiKey.MEDIAN_HOURS_TO_QUALIFY: "hours",
    KpiKey.MEDIAN_LEAD_RESPONSE_MINUTES: "minutes",
    KpiKey.COLD_CALLS: "count",
    KpiKey.COLD_CALL_CONNECT_RATE: "rate",
    KpiKey.COLD_CALLS_TO_LEADS: "count",
    KpiKey.WIN_RATE: "rate",
    KpiKey.AVERAGE_SALES_CYCLE_DAYS: "days",
    **dict.fromkeys(MONEY_KPIS, "money"),
}

CurrencyValues = tuple[tuple[str, Decimal | None], ...]


@dataclass(frozen=True)
class KpiItem:
    """One KPI of the report; money KPIs carry ``values`` per currency."""

    key: str
    label: str
    unit: str
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
    key: str,
    value: int | Decimal | None,
    values: CurrencyValues | None,
    target: KpiTarget | None,
) -> Decimal | None:
    if target is None:
        return None
    if values is not None:
        by_currency = dict(values)
        default = Decimal(0) if key in SUMMED_MONEY else None
        value = by_currency.get(target.currency, default)
    if value is None:
        return None
    return kpis.ratio(value, target.value)


def kpi_report(*, period: Period, segment: Segment) -> KpiReport:
    """Return every KPI of the period with its target and attainment.

    Queries: churn 2, leads 4, cold calls 1, deals 3, targets 1 (11 at most),
    plus 1 for the team's members when the segment names a team.
    """
    churn = kpis.churn(period=period, segment=segment)
    leads = kpis.lead_kpis(period=period, segment=segment)
    calls = kpis.cold_call_kpis(period=period, segment=segment)
    deals = kpis.deal_kpis(period=period, segment=segment)
    figures: dict[str, int | Decimal | CurrencyValues | None] = {
        KpiKey.CUSTOMER_CHURN_RATE: churn.customer_churn_rate,
        KpiKey.RETENTION_RATE: churn.retention_rate,
        KpiKey.GROSS_MRR_CHURN_RATE: _single_currency(churn.gross_mrr_churn_rate),
        KpiKey.MRR_START: churn.mrr_start,
        KpiKey.MRR_END: churn.mrr_end,
        KpiKey.NEW_MRR: churn.new_mrr,
        KpiKey.CHURNED_MRR: churn.churned_mrr,
        KpiKey.NEW_LEADS: leads.new_leads,
        KpiKey.PROSPECTS_ADDED: leads.prospects_added,
        KpiKey.LEAD_TO_QUALIFIED_RATE: leads.lead_to_qualified_rate,
        KpiKey.MEDIAN_HOURS_TO_QUALIFY: leads.median_hours_to_qualify,
        KpiKey.MEDIAN_LEAD_RESPONSE_MINUTES: leads.median_lead_response_minutes,
        KpiKey.COLD_CALLS: calls.cold_calls,
        KpiKey.COLD_CALL_CONNECT_RATE: calls.connect_rate,
        KpiKey.COLD_CALLS_TO_LEADS: calls.became_leads,
        KpiKey.WIN_RATE: deals.win_rate,
        KpiKey.AVERAGE_DEAL_SIZE: deals.average_deal_size,
        KpiKey.REVENUE_WON: deals.revenue_won,
        KpiKey.AVERAGE_SALES_CYCLE_DAYS: deals.average_sales_cycle_days,
        KpiKey.PIPELINE_VALUE: deals.pipeline_value,
        KpiKey.WEIGHTED_PIPELINE: deals.weighted_pipeline,
        KpiKey.SALES_VELOCITY_PER_DAY: deals.sales_velocity_per_day,
    }
    targets = targets_for(period=period, segment=segment)
    items = []
    for key in KpiKey:
        figure = figures[key]
        money = key in MONEY_KPIS
        value = None if money else figure
        values = figure if money else None
        if key == KpiKey.GROSS_MRR_CHURN_RATE:
            values = churn.gross_mrr_churn_rate  # the rate in each currency
        target = targets.get(key)
        items.append(
            KpiItem(
                key=key.value,
                label=key.label,
                unit=UNITS[key],
                value=value,  # type: ignore[arg-type]
                values=values,  # type: ignore[arg-type]
                target=target.value if target else None,
                target_currency=target.currency if target else "",
                attainment=_attainment(key, value, values, target),  # type: ignore[arg-type]
            )
        )
    return KpiReport(
        period=period,
        segment=segment,
        items=tuple(items),
        churn=churn,
        leads=leads,
        cold_calls=calls,
        deals=deals,
    )


def _single_currency(rates: tuple[tuple[str, Decimal | None], ...]) -> Decimal | None:
    """Return the gross MRR churn rate when all MRR is in one currency.

    A rate mixing currencies would add amounts of different money; with several
    currencies the rate is reported per currency only (``mrr_churn_by_currency``).
    """
    return rates[0][1] if len(rates) == 1 else None
