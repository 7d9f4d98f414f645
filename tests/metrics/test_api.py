"""The metrics API: shape, the same numbers as the KPI functions, permissions,
validation and pinned query counts."""

from decimal import Decimal

import pytest

from metrics import kpis
from metrics.models import KpiKey, KpiTarget
from metrics.segments import Period, Segment
from tests.metrics.datasets import (
    Q1,
    build_cold_calls,
    build_customers,
    build_deals,
    build_leads,
)

pytestmark = pytest.mark.django_db

KPIS = "/api/v1/metrics/kpis/"
FUNNEL = "/api/v1/metrics/funnel/"
CHURN = "/api/v1/metrics/churn/"
TARGETS = "/api/v1/metrics/targets/"
Q1_PARAMS = {"start": "2026-01-01", "end": "2026-03-31"}


@pytest.fixture
def crm(rep, other_rep, foreign_rep):
    build_customers(rep, foreign_rep)
    build_leads(rep, foreign_rep)
    build_deals(rep, foreign_rep)


def _by_key(body):
    return {item["key"]: item for item in body["kpis"]}


def test_kpis_response_shape_and_numbers(
    crm, rep, api_as, django_assert_max_num_queries
):
    # Queries: the owner parameter (with its team) 1, churn 2, leads 6, cold
    # calls 1, closed deals 1, stage settings 1, open deals 1, targets 1 = 14.
    with django_assert_max_num_queries(14):
        response = api_as(rep).get(KPIS, {**Q1_PARAMS, "owner": rep.pk})

    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"start": "2026-01-01", "end": "2026-03-31"}
    assert body["filters"] == {"team": None, "owner": rep.pk, "channel": None}
    items = _by_key(body)
    assert set(items) == set(KpiKey.values)
    assert set(items["win_rate"]) == {
        "key", "label", "unit", "better", "value", "target", "attainment",
        "within_target",
    }  # fmt: skip
    # Same figures as tests/metrics/test_*.py, as decimal strings.
    # Churn: B and F lost of A, B, C, F (F ends on the first day) = 2 / 4.
    assert items["customer_churn_rate"]["value"] == "0.5000"
    assert items["retention_rate"]["value"] == "0.5000"
    # (churned 380 + contraction 70) / 500.
    assert items["gross_mrr_churn_rate"]["value"] == "0.9000"
    assert items["mrr_start"]["unit"] == "money"
    assert "value" not in items["mrr_start"]
    assert items["mrr_start"]["values"] == [{"currency": "EUR", "value": "500.00"}]
    assert items["contraction_mrr"]["values"] == [{"currency": "EUR", "value": "70.00"}]
    assert items["net_new_mrr"]["values"] == [{"currency": "EUR", "value": "-50.00"}]
    assert items["net_revenue_retention"]["value"] == "0.1000"  # 1 - 0.9
    assert items["new_leads"]["value"] == 5
    assert items["lead_to_qualified_rate"]["value"] == "0.4000"
    assert items["median_hours_to_qualify"]["value"] == "29.00"
    assert items["median_lead_response_minutes"]["value"] == "75.00"
    assert items["win_rate"]["value"] == "0.7500"
    assert items["revenue_won"]["values"] == [
        {"currency": "EUR", "value": "4000.00"},
        {"currency": "USD", "value": "2000.00"},
    ]
    assert items["average_sales_cycle_days"]["value"] == "30.67"  # 92 / 3
    assert items["weighted_pipeline"]["values"] == [
        {"currency": "EUR", "value": "2370.00"}
    ]
    assert items["sales_velocity_per_day"]["values"][0] == {
        "currency": "EUR",
        "value": "195.65",
    }
    # The same numbers as the function.
    deals = kpis.deal_kpis(period=Q1, segment=Segment(owner=rep))
    assert Decimal(items["win_rate"]["value"]) == deals.win_rate


def test_money_of_several_currencies_is_never_summed(crm, admin_user, api_as):
    items = _by_key(api_as(admin_user).get(KPIS, Q1_PARAMS).json())

    assert items["mrr_start"]["values"] == [
        {"currency": "EUR", "value": "500.00"},
        {"currency": "USD", "value": "1000.00"},
    ]
    # A rate over two currencies would mix money: null, per currency in values.
    assert items["gross_mrr_churn_rate"]["value"] is None
    assert items["gross_mrr_churn_rate"]["values"] == [
        {"currency": "EUR", "value": "0.9000"},
        {"currency": "USD", "value": "0.0000"},
    ]


def test_targets_and_attainment(crm, rep, manager, team, api_as):
    KpiTarget.objects.create(
        kpi="win_rate", period_kind="quarter", period_start=Q1.start,
        owner=rep, value=Decimal("0.6"),
    )  # fmt: skip
    KpiTarget.objects.create(
        kpi="revenue_won", period_kind="quarter", period_start=Q1.start,
        owner=rep, value=Decimal("5000"), currency="EUR",
    )  # fmt: skip

    items = _by_key(api_as(manager).get(KPIS, {**Q1_PARAMS, "owner": rep.pk}).json())

    # 0.75 / 0.6 = 1.25.
    assert items["win_rate"]["target"] == "0.6000"
    assert items["win_rate"]["attainment"] == "1.2500"
    # EUR revenue 4000 / 5000 = 0.8.
    assert items["revenue_won"]["target"] == "5000.00"
    assert items["revenue_won"]["target_currency"] == "EUR"
    assert items["revenue_won"]["attainment"] == "0.8000"
    assert items["new_leads"]["target"] is None
    assert items["new_leads"]["attainment"] is None


def test_rep_asking_for_another_reps_kpis_is_told_the_id_does_not_exist(
    rep, other_rep, api_as
):
    # An id out of scope gets exactly the answer of an id that does not exist.
    missing = other_rep.pk + 1000
    client = api_as(rep)

    out_of_scope = client.get(KPIS, {"owner": other_rep.pk})
    nonexistent = client.get(KPIS, {"owner": missing})

    assert (out_of_scope.status_code, nonexistent.status_code) == (400, 400)
    [error] = out_of_scope.json()["errors"]
    [missing_error] = nonexistent.json()["errors"]
    assert error["detail"] == f'Invalid pk "{other_rep.pk}" - object does not exist.'
    assert missing_error["detail"] == f'Invalid pk "{missing}" - object does not exist.'
    assert (error["code"], error["attr"]) == (missing_error["code"], "owner")


def test_rep_cannot_read_a_teams_kpis(rep, team, api_as):
    response = api_as(rep).get(KPIS, {"team": team.pk})

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "team"


def test_manager_reads_their_team_not_another(rep, team, manager, foreign_rep, api_as):
    client = api_as(manager)

    assert client.get(KPIS, {"team": team.pk}).status_code == 200
    assert client.get(KPIS, {"owner": rep.pk}).status_code == 200
    assert client.get(KPIS, {"owner": foreign_rep.pk}).status_code == 400
    assert client.get(KPIS, {"team": foreign_rep.team_id}).status_code == 400


def test_team_kpis_for_its_manager(
    crm, rep, team, manager, api_as, django_assert_max_num_queries
):
    # Queries: the team parameter 1, the team's members 1 (then literal owner
    # ids in every KPI query), churn 2, leads 6, cold calls 1, closed deals 1,
    # stage settings 1, open deals 1, targets 1 = 15.
    with django_assert_max_num_queries(15):
        response = api_as(manager).get(KPIS, {**Q1_PARAMS, "team": team.pk})

    assert response.status_code == 200
    items = _by_key(response.json())
    # Team North is rep and other_rep; other_rep has no records: the rep's
    # figures. New leads L1, L2, L3, L4, L7 = 5; churn B, F lost of A, B, C,
    # F = 2/4.
    assert items["new_leads"]["value"] == 5
    assert items["customer_churn_rate"]["value"] == "0.5000"
    # Won D1, D2, D6 of 4 closed (DF is the foreign team's): 0.75.
    assert items["win_rate"]["value"] == "0.7500"


def test_integration_and_admin_read_everything(
    foreign_rep, integration, admin_user, api_as
):
    for user in (integration, admin_user):
        response = api_as(user).get(FUNNEL, {"team": foreign_rep.team_id})
        assert response.status_code == 200


def test_anonymous_is_refused(anon_api):
    assert anon_api.get(KPIS).status_code in (401, 403)


def test_bad_parameters_are_400_per_field(rep, api_as):
    client = api_as(rep)

    bad_date = client.get(KPIS, {"start": "2026-13-01"})
    reversed_period = client.get(KPIS, {"start": "2026-03-01", "end": "2026-01-01"})
    unknown_team = client.get(KPIS, {"team": 999999})
    bad_channel = client.get(KPIS, {"channel": "carrier-pigeon"})

    for response, field in [
        (bad_date, "start"),
        (reversed_period, "end"),
        (unknown_team, "team"),
        (bad_channel, "channel"),
    ]:
        assert response.status_code == 400
        assert [error["attr"] for error in response.json()["errors"]] == [field]


def test_default_period_is_the_current_quarter(rep, api_as):
    body = api_as(rep).get(KPIS).json()

    quarter = Period.current_quarter()
    assert body["period"] == {
        "start": quarter.start.isoformat(),
        "end": quarter.end.isoformat(),
    }


def test_a_reps_default_scope_is_their_own_records(crm, rep, other_rep, api_as):
    # other_rep owns nothing: every count is 0 and every ratio null.
    items = _by_key(api_as(other_rep).get(KPIS, Q1_PARAMS).json())

    assert items["new_leads"]["value"] == 0
    assert items["win_rate"]["value"] is None
    assert items["customer_churn_rate"]["value"] is None


def test_funnel_endpoint(crm, rep, api_as, django_assert_max_num_queries):
    # Queries: owner (with team) 1, deals by depth 1, stage settings 1, open 1.
    with django_assert_max_num_queries(4):
        response = api_as(rep).get(FUNNEL, {**Q1_PARAMS, "owner": rep.pk})

    body = response.json()
    assert response.status_code == 200
    assert body["created"] == 7
    assert [s["reached"] for s in body["stages"]] == [7, 6, 5, 5, 3]
    assert [s["conversion_from_previous"] for s in body["stages"]] == [
        None,
        "0.8571",  # 6 / 7
        "0.8333",  # 5 / 6
        "1.0000",
        "0.6000",  # 3 / 5
    ]
    assert body["open_on_end"][0] == {
        "stage": "prospection",
        "currency": "EUR",
        "deals": 1,
        "amount": "400.00",
        "weighted_amount": "40.00",
    }


def test_churn_series_endpoint(crm, rep, api_as, django_assert_max_num_queries):
    params = {**Q1_PARAMS, "owner": rep.pk, "interval": "month"}

    # Queries: owner (with team) 1, customer counts 1, MRR 1: not one per month.
    with django_assert_max_num_queries(3):
        response = api_as(rep).get(CHURN, params)

    points = response.json()["points"]
    assert [p["start"] for p in points] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    # February: 1 customer (B) lost out of A, B, C, D (E starts on 02-01).
    assert points[1]["customer_churn_rate"] == "0.2500"
    assert points[1]["churned_mrr"] == [{"currency": "EUR", "value": "200.00"}]


def test_churn_series_is_bounded(rep, api_as):
    response = api_as(rep).get(CHURN, {"start": "2020-01-01", "end": "2026-01-01"})

    assert response.status_code == 400


def test_cold_call_numbers_through_the_api(rep, foreign_rep, api_as):
    build_cold_calls(rep, foreign_rep)

    items = _by_key(api_as(rep).get(KPIS, Q1_PARAMS).json())

    assert items["cold_calls"]["value"] == 4
    assert items["cold_call_connect_rate"]["value"] == "0.5000"
    assert items["cold_calls_to_leads"]["value"] == 1


def test_schema_documents_the_metrics_endpoints(admin_user, api_as):
    response = api_as(admin_user).get("/api/schema/", {"format": "json"})

    paths = response.json()["paths"]
    assert "/api/v1/metrics/kpis/" in paths
    parameters = {
        p["name"] for p in paths["/api/v1/metrics/kpis/"]["get"]["parameters"]
    }
    assert {"start", "end", "team", "owner", "channel"} <= parameters
