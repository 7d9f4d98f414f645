"""Targets mean what they say: in the KPI's own unit, "within target" where lower
is better, quarters built from months where months add up, and a manager sees
their team's targets without picking the team."""

import datetime
from decimal import Decimal

import pytest

from metrics.models import KpiTarget
from metrics.report import targets_for
from metrics.segments import Segment
from tests.metrics.datasets import Q1, build_deals, build_leads

pytestmark = pytest.mark.django_db

TARGETS = "/api/v1/metrics/targets/"
KPIS = "/api/v1/metrics/kpis/"
Q1_PARAMS = {"start": "2026-01-01", "end": "2026-03-31"}
JAN, FEB, MAR = (datetime.date(2026, m, 1) for m in (1, 2, 3))


def _errors(response) -> dict[str, str]:
    return {error["attr"]: error["detail"] for error in response.json()["errors"]}


def _target(kpi, value, *, start=Q1.start, kind="quarter", **scope):
    return KpiTarget.objects.create(
        kpi=kpi, period_kind=kind, period_start=start, value=Decimal(value), **scope
    )


@pytest.mark.parametrize(
    ("kpi", "value", "message"),
    [
        ("win_rate", "25", "fraction from 0 to 1"),  # a percentage, not a rate
        ("customer_churn_rate", "1.5", "fraction from 0 to 1"),
        ("new_leads", "12.5", "whole number"),
    ],
)
def test_a_target_outside_its_kpis_unit_is_a_400(
    admin_user, api_as, kpi, value, message
):
    response = api_as(admin_user).post(
        TARGETS,
        {"kpi": kpi, "period_kind": "quarter", "period_start": "2026-01-01",
         "value": value},
    )  # fmt: skip

    assert response.status_code == 400
    assert message in _errors(response)["value"]


def test_net_revenue_retention_may_aim_above_one(admin_user, api_as):
    response = api_as(admin_user).post(
        TARGETS,
        {"kpi": "net_revenue_retention", "period_kind": "quarter",
         "period_start": "2026-01-01", "value": "1.1"},
    )  # fmt: skip

    assert response.status_code == 201, response.json()


def test_lower_is_better_is_within_target_not_an_attainment(rep, foreign_rep, api_as):
    build_leads(rep, foreign_rep)
    _target("median_lead_response_minutes", "80", owner=rep)
    _target("median_hours_to_qualify", "10", owner=rep)

    body = api_as(rep).get(KPIS, {**Q1_PARAMS, "owner": rep.pk}).json()
    items = {item["key"]: item for item in body["kpis"]}

    # 75 min against 80: within target (the old attainment said 94%).
    response = items["median_lead_response_minutes"]
    assert (response["attainment"], response["within_target"]) == (None, True)
    # 29 h against 10: not within target (the old attainment said 290%).
    to_qualify = items["median_hours_to_qualify"]
    assert (to_qualify["attainment"], to_qualify["within_target"]) == (None, False)


def test_a_quarter_sums_its_monthly_count_and_money_targets(
    rep, django_assert_num_queries
):
    for month, leads, revenue in ((JAN, 2, 1000), (FEB, 2, 1500), (MAR, 3, 2500)):
        _target("new_leads", leads, start=month, kind="month", owner=rep)
        _target("revenue_won", revenue, start=month, kind="month", owner=rep,
                currency="EUR")  # fmt: skip
        # A rate, an average and a level never add up over months.
        _target("win_rate", "0.5", start=month, kind="month", owner=rep)
        _target("average_deal_size", 900, start=month, kind="month", owner=rep,
                currency="EUR")  # fmt: skip
        _target("mrr_end", 5000, start=month, kind="month", owner=rep,
                currency="EUR")  # fmt: skip
    # Only two months of cold calls: no quarter target from them.
    for month in (JAN, FEB):
        _target("cold_calls", 50, start=month, kind="month", owner=rep)

    # Queries: the period's quarter and monthly targets of the scope, 1.
    with django_assert_num_queries(1):
        targets = targets_for(period=Q1, segment=Segment(owner=rep, viewer=rep))

    assert targets["new_leads"].value == 7  # 2 + 2 + 3
    assert targets["new_leads"].from_months
    assert (targets["revenue_won"].value, targets["revenue_won"].currency) == (
        Decimal(5000),  # 1000 + 1500 + 2500
        "EUR",
    )
    assert set(targets) == {"new_leads", "revenue_won"}


def test_a_quarter_target_set_for_it_wins_over_its_months(rep):
    _target("new_leads", 10, owner=rep)
    for month in (JAN, FEB, MAR):
        _target("new_leads", 2, start=month, kind="month", owner=rep)

    targets = targets_for(period=Q1, segment=Segment(owner=rep, viewer=rep))

    assert targets["new_leads"].value == 10
    assert not targets["new_leads"].from_months


def test_the_report_shows_a_quarter_target_built_from_months(
    rep, foreign_rep, deals_and_leads, api_as
):
    for month, revenue in ((JAN, 1000), (FEB, 1000), (MAR, 3000)):
        _target("revenue_won", revenue, start=month, kind="month", owner=rep,
                currency="EUR")  # fmt: skip

    body = api_as(rep).get(KPIS, {**Q1_PARAMS, "owner": rep.pk}).json()
    item = next(i for i in body["kpis"] if i["key"] == "revenue_won")

    # Revenue won EUR 4000 against 1000 + 1000 + 3000 = 5000: 0.8.
    assert (item["target"], item["target_currency"]) == ("5000.00", "EUR")
    assert item["target_from_months"] is True
    assert (item["attainment"], item["within_target"]) == ("0.8000", False)


def test_manager_sees_the_team_targets_without_picking_the_team(
    rep, team, manager, deals_and_leads, api_as
):
    _target("win_rate", "0.6", team=team)

    body = api_as(manager).get(KPIS, Q1_PARAMS).json()
    item = next(i for i in body["kpis"] if i["key"] == "win_rate")

    # The manager's unfiltered KPIs are the team's: win rate 0.75 vs 0.6.
    assert item["target"] == "0.6000"
    assert (item["attainment"], item["within_target"]) == ("1.2500", True)


@pytest.fixture
def deals_and_leads(rep, foreign_rep):
    build_deals(rep, foreign_rep)
    build_leads(rep, foreign_rep)
