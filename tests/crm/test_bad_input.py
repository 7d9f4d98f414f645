"""Every bad input gets a 4xx in the API's JSON error format, never a 500.

The bounds are in crm/limits.py and documented in docs/api.md.
"""

import datetime
import json

import pytest
import time_machine
from rest_framework.test import APIClient

from crm import limits
from pipeline.models import Deal
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["errors"], body
    return body["errors"][0]


@pytest.fixture
def client(api_as, rep):
    client = api_as(rep)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(
    "header",
    ["Token \x00" + "a" * 63, "Token abc\x00def", "Token \xff\xfe\xfd"],
    ids=["nul-first", "nul-inside", "invalid-utf8"],
)
def test_a_malformed_token_is_a_401(header):
    client = APIClient(raise_request_exception=False)

    response = client.get("/api/v1/leads/", HTTP_AUTHORIZATION=header)

    assert _error(response, 401)["code"] == "authentication_failed"


def test_a_deeply_nested_json_body_is_a_400(client):
    body = "[" * 5000 + "]" * 5000

    response = client.post("/api/v1/companies/", body, content_type="application/json")

    assert _error(response, 400)["code"] == "parse_error"


def test_json_nested_within_the_bound_is_read(client):
    nested = "x"
    for _ in range(limits.MAX_JSON_DEPTH - 2):
        nested = [nested]
    body = json.dumps({"name": "Acme", "industry": "", "extra": nested})

    response = client.post("/api/v1/companies/", body, content_type="application/json")

    assert response.status_code == 201


@pytest.mark.parametrize("with_key", [False, True])
def test_a_body_over_the_limit_is_a_json_413(client, with_key):
    body = json.dumps({"name": "x" * (limits.MAX_BODY_BYTES + 1)})
    headers = {"HTTP_IDEMPOTENCY_KEY": "big"} if with_key else {}

    response = client.post(
        "/api/v1/companies/", body, content_type="application/json", **headers
    )

    assert _error(response, 413)["code"] == "request_too_large"


def test_more_than_a_thousand_query_parameters_is_a_400(client):
    query = "&".join(f"p{n}=1" for n in range(limits.MAX_PARAMETERS + 1))

    response = client.get(f"/api/v1/leads/?{query}")

    assert _error(response, 400)["code"] == "too_many_parameters"


def test_a_duration_past_the_32_bit_range_is_a_400(client, rep):
    lead = LeadFactory(owner=rep)

    response = client.post(
        "/api/v1/activities/",
        {"kind": "call", "lead": lead.pk, "duration_seconds": 2**31},
    )

    error = _error(response, 400)
    assert (error["attr"], error["code"]) == ("duration_seconds", "max_value")


def test_a_headcount_past_the_bound_is_a_400(client):
    response = client.post("/api/v1/companies/", {"name": "Acme", "employees": 2**31})

    assert _error(response, 400)["attr"] == "employees"


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "1969-12-31T12:00:00Z"],
)
def test_an_activity_outside_the_calendar_is_a_400(client, rep, occurred_at):
    lead = LeadFactory(owner=rep)

    response = client.post(
        "/api/v1/activities/",
        {"kind": "note", "lead": lead.pk, "occurred_at": occurred_at},
    )

    assert _error(response, 400)["attr"] == "occurred_at"


@pytest.mark.parametrize("path", ["metrics/kpis/", "metrics/funnel/", "metrics/churn/"])
@pytest.mark.parametrize(
    ("start", "end"), [("9999-01-01", "9999-12-31"), ("0001-01-01", "0001-12-31")]
)
def test_a_kpi_period_outside_the_calendar_is_a_400(client, path, start, end):
    response = client.get(f"/api/v1/{path}?start={start}&end={end}")

    error = _error(response, 400)
    assert (error["attr"], error["code"]) == ("start", "date_out_of_range")


@pytest.mark.parametrize("start", ["9999-01-01", "0001-01-01"])
def test_the_dashboard_explains_a_period_outside_the_calendar(
    client, admin_user, start
):
    django_client = client.__class__()
    django_client.force_login(admin_user)

    with time_machine.travel(NOON, tick=False):
        response = django_client.get(
            f"/admin/metrics/dashboard/?start={start}&end={start[:4]}-12-31"
        )

    assert response.status_code == 200
    assert b"Use a date between 1970-01-01 and 2099-12-31." in response.content


def test_converting_a_lead_with_a_200_character_company_names_its_deal_within_bounds(
    client, rep
):
    name = "Company " + "x" * 192
    lead = LeadFactory(
        owner=rep, status="qualified", email="jo@gmail.com", company_name=name
    )

    response = client.post(f"/api/v1/leads/{lead.pk}/convert/", {})

    assert response.status_code == 201, response.content
    title = Deal.objects.get().title
    assert len(title) == Deal._meta.get_field("title").max_length
    assert title.startswith("Company xxx")
    assert title.endswith("… deal")


def test_a_nul_in_a_search_is_a_400_on_the_search_parameter(client):
    response = client.get("/api/v1/companies/", {"search": "a\x00b"})

    error = _error(response, 400)
    assert (error["attr"], error["code"]) == ("search", "null_characters_not_allowed")


@pytest.mark.parametrize(
    "before",
    ["0029-04-30T13:36:24-23:03", "2150-01-01T00:00:00Z"],
    ids=["year-29-offset-beyond-postgresql", "after-2099"],
)
def test_an_activity_filter_outside_the_calendar_is_a_400(client, before):
    # Found by `make fuzz` on PostgreSQL: the bound reached the database,
    # which refused its offset, and the list answered 500.
    response = client.get("/api/v1/activities/", {"occurred_before": before})
    assert _error(response, 400)["code"] == "invalid"


def test_an_activity_filter_with_a_large_utc_offset_is_read_in_utc(client, rep):
    # -23:03 is a valid ISO 8601 offset that PostgreSQL cannot parse; the
    # filter hands the database the same instant in UTC.
    response = client.get(
        "/api/v1/activities/", {"occurred_before": "2026-03-10T00:00:00-23:03"}
    )
    assert response.status_code == 200, response.content


def test_moving_a_deal_id_beyond_the_column_is_a_404(client):
    # Found by `make fuzz`: the one-statement move compiled a filter that no
    # row can match and answered 500.
    response = client.post(
        "/api/v1/deals/89618109251362398142464/move/", {"stage": "presentation"}
    )
    assert _error(response, 404)


def test_a_list_without_search_ignores_the_search_parameter(client):
    # Found by `make fuzz`: the imports list has no search, yet a NUL in
    # ?search= answered a 400 its schema does not list.
    response = client.get("/api/v1/imports/", {"search": "S\x00v"})
    assert response.status_code == 200, response.content
