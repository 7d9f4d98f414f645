"""The sales KPIs, computed in the database, by subject.

One module per subject: ``customers`` (churn and MRR), ``leads``, ``activities``
(cold calls), ``deals`` (and per rep), ``funnel``; ``numbers`` holds the exact
arithmetic they share and ``registry`` defines each KPI once (key, label, unit,
direction, currencies, the function computing it).

Every function takes keyword-only arguments (a ``Period`` and a ``Segment``),
runs a fixed number of queries whatever the data or the number of reps (the
count is in each docstring), and returns a frozen dataclass. Definitions are
those of docs/metrics.md, which carries a worked example for each.
"""

from metrics.kpis.activities import ColdCallKpis, cold_call_kpis
from metrics.kpis.customers import ChurnKpis, churn, churn_series, customers_on
from metrics.kpis.deals import (
    DealKpis,
    RepPerformance,
    StageRow,
    deal_kpis,
    rep_performance,
)
from metrics.kpis.funnel import Funnel, FunnelStage, funnel
from metrics.kpis.leads import LeadKpis, lead_kpis, new_leads_by_month
from metrics.kpis.numbers import Money, ratio, to_cents

__all__ = [
    "ChurnKpis",
    "ColdCallKpis",
    "DealKpis",
    "Funnel",
    "FunnelStage",
    "LeadKpis",
    "Money",
    "RepPerformance",
    "StageRow",
    "churn",
    "churn_series",
    "cold_call_kpis",
    "customers_on",
    "deal_kpis",
    "funnel",
    "lead_kpis",
    "new_leads_by_month",
    "ratio",
    "rep_performance",
    "to_cents",
]
