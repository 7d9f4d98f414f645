"""Demo KPI targets: the current quarter and its months, for the org, teams and reps.

Idempotent: ``get_or_create`` on each target's unique scope.
"""

from __future__ import annotations

from decimal import Decimal

from crm.demo_context import DemoContext
from crm.models import Role, Team, User
from metrics.models import KpiKey, KpiTarget, PeriodKind
from metrics.segments import Period, add_months

ORGANISATION = {
    KpiKey.WIN_RATE: (Decimal("0.30"), ""),
    KpiKey.CUSTOMER_CHURN_RATE: (Decimal("0.05"), ""),
    KpiKey.NEW_LEADS: (Decimal(300), ""),
    KpiKey.REVENUE_WON: (Decimal(150000), "EUR"),
}
TEAM = {
    KpiKey.NEW_LEADS: (Decimal(150), ""),
    KpiKey.REVENUE_WON: (Decimal(75000), "EUR"),
}
REP_MONTHLY = {
    KpiKey.COLD_CALLS: (Decimal(120), ""),
    KpiKey.REVENUE_WON: (Decimal(8000), "EUR"),
}


def _target(kpi, kind, start, value, currency, *, team=None, owner=None) -> bool:
    _, created = KpiTarget.objects.get_or_create(
        kpi=kpi,
        period_kind=kind,
        period_start=start,
        team=team,
        owner=owner,
        defaults={"value": value, "currency": currency},
    )
    return created


def seed(ctx: DemoContext) -> str:
    """Create KPI targets for the current quarter and its months once."""
    quarter = Period.quarter_of(ctx.today)
    created = 0
    for kpi, (value, currency) in ORGANISATION.items():
        created += _target(kpi, PeriodKind.QUARTER, quarter.start, value, currency)
    for team in Team.objects.order_by("name"):
        for kpi, (value, currency) in TEAM.items():
            created += _target(
                kpi, PeriodKind.QUARTER, quarter.start, value, currency, team=team
            )
    reps = list(User.objects.filter(role=Role.REP).order_by("username"))
    for month in range(3):
        start = add_months(quarter.start, month)
        for rep in reps:
            for kpi, (value, currency) in REP_MONTHLY.items():
                created += _target(
                    kpi, PeriodKind.MONTH, start, value, currency, owner=rep
                )
    return f"{created} KPI targets" if created else "already seeded"
