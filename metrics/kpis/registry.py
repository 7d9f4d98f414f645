"""The KPI registry: every KPI defined once.

An entry says what a KPI is called, its unit, whether more is better, how it
combines across currencies, and which function computes it. The functions are
families (``churn``, ``lead_kpis``…) that compute several KPIs in one set of
queries; an entry names its family and the field it reads from the family's
result. The report (so the API and the dashboard), the targets (their choices
and currency rule) and the table in docs/metrics.md all read this registry, so
a new KPI is one entry here plus its computation in its family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from metrics.kpis.activities import cold_call_kpis
from metrics.kpis.customers import churn
from metrics.kpis.deals import deal_kpis
from metrics.kpis.leads import lead_kpis


@dataclass(frozen=True)
class Unit:
    """How a figure is counted and shown."""

    name: str
    # Decimal places of the API's decimal strings; None: an integer.
    places: Decimal | None
    # Written after the figure on the dashboard (rates are shown as percents).
    suffix: str = ""

    def format(self, value: Decimal | int | None) -> str | int | None:
        """Return the API's form: None stays null, counts integers, else strings."""
        if value is None:
            return None
        if self.places is None:
            return int(value)
        return str(Decimal(value).quantize(self.places, rounding=ROUND_HALF_UP))


COUNT = Unit("count", None)
RATE = Unit("rate", Decimal("0.0001"), "%")
MONEY = Unit("money", Decimal("0.01"))
HOURS = Unit("hours", Decimal("0.01"), "h")
MINUTES = Unit("minutes", Decimal("0.01"), "min")
DAYS = Unit("days", Decimal("0.01"), "days")
UNITS: dict[str, Unit] = {u.name: u for u in (RATE, COUNT, MONEY, HOURS, MINUTES, DAYS)}


class Better(StrEnum):
    """Which way a KPI should go (an attainment above 1 is good, or below)."""

    HIGHER = "higher"
    LOWER = "lower"


class Currencies(StrEnum):
    """How a KPI combines across currencies (amounts are never added across)."""

    # Not money: one figure over the records of every currency.
    NONE = "none"
    # A sum per currency: a currency with no rows is a real zero.
    SUMMED = "summed"
    # An average or a speed per currency: a currency with no rows has none.
    PER_CURRENCY = "per_currency"
    # A ratio of two sums in each currency; the single figure exists only
    # when all the money is in one currency (adding currencies is meaningless).
    RATIO_PER_CURRENCY = "ratio_per_currency"


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: Unit
    better: Better
    currencies: Currencies
    # The function computing it (keyword-only ``period`` and ``segment``) and
    # the field of its result that holds this KPI.
    family: Callable[..., Any]
    field: str
    # A figure at a moment (MRR on a day, the open pipeline), not a flow over
    # the period: a quarter's target is not the sum of its months'.
    level: bool = False
    # A rate that may exceed 1 (net revenue retention with net expansion).
    exceeds_one: bool = False

    def __post_init__(self) -> None:
        money = self.unit is MONEY
        if money != (self.currencies in (Currencies.SUMMED, Currencies.PER_CURRENCY)):
            raise ValueError(
                f"{self.key}: money is summed or per currency, nothing else is."
            )

    @property
    def takes_currency(self) -> bool:
        """Return True when its targets name a currency (money KPIs)."""
        return self.unit is MONEY

    @property
    def adds_up_over_time(self) -> bool:
        """Return True when the months' figures add up to the quarter's."""
        return not self.level and (
            self.unit is COUNT or self.currencies is Currencies.SUMMED
        )

    def read(self, result: Any) -> Any:
        """Return this KPI's figure from its family's result."""
        return getattr(result, self.field)


KPIS: tuple[Kpi, ...] = (
    # Customers and churn (metrics.kpis.customers).
    Kpi(
        key="customer_churn_rate",
        label=_("Customer churn rate"),
        unit=RATE,
        better=Better.LOWER,
        currencies=Currencies.NONE,
        family=churn,
        field="customer_churn_rate",
    ),
    Kpi(
        key="retention_rate",
        label=_("Retention rate"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=churn,
        field="retention_rate",
    ),
    Kpi(
        key="gross_mrr_churn_rate",
        label=_("Gross MRR churn rate"),
        unit=RATE,
        better=Better.LOWER,
        currencies=Currencies.RATIO_PER_CURRENCY,
        family=churn,
        field="gross_mrr_churn_rate",
    ),
    Kpi(
        key="net_mrr_churn_rate",
        label=_("Net MRR churn rate"),
        unit=RATE,
        better=Better.LOWER,
        currencies=Currencies.RATIO_PER_CURRENCY,
        family=churn,
        field="net_mrr_churn_rate",
    ),
    Kpi(
        key="gross_revenue_retention",
        label=_("Gross revenue retention"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.RATIO_PER_CURRENCY,
        family=churn,
        field="gross_revenue_retention",
    ),
    Kpi(
        key="net_revenue_retention",
        label=_("Net revenue retention"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.RATIO_PER_CURRENCY,
        family=churn,
        field="net_revenue_retention",
        exceeds_one=True,
    ),
    Kpi(
        key="mrr_start",
        label=_("MRR on start"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="mrr_start",
        level=True,
    ),
    Kpi(
        key="mrr_end",
        label=_("MRR on end"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="mrr_end",
        level=True,
    ),
    Kpi(
        key="new_mrr",
        label=_("New MRR"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="new_mrr",
    ),
    Kpi(
        key="expansion_mrr",
        label=_("Expansion MRR"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="expansion_mrr",
    ),
    Kpi(
        key="contraction_mrr",
        label=_("Contraction MRR"),
        unit=MONEY,
        better=Better.LOWER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="contraction_mrr",
    ),
    Kpi(
        key="churned_mrr",
        label=_("Churned MRR"),
        unit=MONEY,
        better=Better.LOWER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="churned_mrr",
    ),
    Kpi(
        key="reactivation_mrr",
        label=_("Reactivation MRR"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="reactivation_mrr",
    ),
    Kpi(
        key="net_new_mrr",
        label=_("Net new MRR"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=churn,
        field="net_new_mrr",
    ),
    # Leads and prospects (metrics.kpis.leads).
    Kpi(
        key="new_leads",
        label=_("New leads"),
        unit=COUNT,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=lead_kpis,
        field="new_leads",
    ),
    Kpi(
        key="prospects_added",
        label=_("Prospects added"),
        unit=COUNT,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=lead_kpis,
        field="prospects_added",
    ),
    Kpi(
        key="lead_to_qualified_rate",
        label=_("Lead-to-qualified conversion"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=lead_kpis,
        field="lead_to_qualified_rate",
    ),
    Kpi(
        key="median_hours_to_qualify",
        label=_("Median time to qualify"),
        unit=HOURS,
        better=Better.LOWER,
        currencies=Currencies.NONE,
        family=lead_kpis,
        field="median_hours_to_qualify",
    ),
    Kpi(
        key="median_lead_response_minutes",
        label=_("Median lead response time"),
        unit=MINUTES,
        better=Better.LOWER,
        currencies=Currencies.NONE,
        family=lead_kpis,
        field="median_lead_response_minutes",
    ),
    Kpi(
        key="mean_lead_response_minutes",
        label=_("Mean lead response time"),
        unit=MINUTES,
        better=Better.LOWER,
        currencies=Currencies.NONE,
        family=lead_kpis,
        field="mean_lead_response_minutes",
    ),
    Kpi(
        key="lead_response_within_sla_rate",
        label=_("Leads answered within the service level"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=lead_kpis,
        field="lead_response_within_sla_rate",
    ),
    # Cold calls (metrics.kpis.activities).
    Kpi(
        key="cold_calls",
        label=_("Cold calls"),
        unit=COUNT,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=cold_call_kpis,
        field="cold_calls",
    ),
    Kpi(
        key="cold_call_connect_rate",
        label=_("Cold call connect rate"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=cold_call_kpis,
        field="connect_rate",
    ),
    Kpi(
        key="cold_call_meetings_per_connect",
        label=_("Cold call meetings per connect"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=cold_call_kpis,
        field="meetings_per_connect",
    ),
    Kpi(
        key="cold_call_meetings_per_dial",
        label=_("Cold call meetings per dial"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=cold_call_kpis,
        field="meetings_per_dial",
    ),
    Kpi(
        key="cold_calls_to_leads",
        label=_("Cold-called prospects who became leads"),
        unit=COUNT,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=cold_call_kpis,
        field="became_leads",
    ),
    # Deals (metrics.kpis.deals).
    Kpi(
        key="win_rate",
        label=_("Win rate"),
        unit=RATE,
        better=Better.HIGHER,
        currencies=Currencies.NONE,
        family=deal_kpis,
        field="win_rate",
    ),
    Kpi(
        key="average_deal_size",
        label=_("Average deal size"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.PER_CURRENCY,
        family=deal_kpis,
        field="average_deal_size",
    ),
    Kpi(
        key="revenue_won",
        label=_("Revenue won"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=deal_kpis,
        field="revenue_won",
    ),
    Kpi(
        key="average_sales_cycle_days",
        label=_("Average sales cycle"),
        unit=DAYS,
        better=Better.LOWER,
        currencies=Currencies.NONE,
        family=deal_kpis,
        field="average_sales_cycle_days",
    ),
    Kpi(
        key="pipeline_value",
        label=_("Pipeline value"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=deal_kpis,
        field="pipeline_value",
        level=True,
    ),
    Kpi(
        key="weighted_pipeline",
        label=_("Weighted pipeline"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.SUMMED,
        family=deal_kpis,
        field="weighted_pipeline",
        level=True,
    ),
    Kpi(
        key="sales_velocity_per_day",
        label=_("Sales velocity per day"),
        unit=MONEY,
        better=Better.HIGHER,
        currencies=Currencies.PER_CURRENCY,
        family=deal_kpis,
        field="sales_velocity_per_day",
    ),
)
BY_KEY: dict[str, Kpi] = {kpi.key: kpi for kpi in KPIS}

# The KPI keys as model choices (``KpiTarget.kpi``), in the registry's order.
KpiKey = models.TextChoices(  # type: ignore[misc]
    "KpiKey", [(kpi.key.upper(), (kpi.key, kpi.label)) for kpi in KPIS]
)


def families() -> tuple[Callable[..., Any], ...]:
    """Return the functions computing the registry's KPIs, in first-use order."""
    return tuple(dict.fromkeys(kpi.family for kpi in KPIS))


def markdown_table() -> str:
    """Return the KPI table of docs/metrics.md ("All KPIs")."""
    lines = [
        "| key | KPI | unit | better | across currencies |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        f"| `{kpi.key}` | {kpi.label} | {kpi.unit.name} | {kpi.better} "
        f"| {kpi.currencies} |"
        for kpi in KPIS
    )
    return "\n".join(lines)
