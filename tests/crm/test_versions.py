"""Every mutable record carries a version: ETag out, If-Match in, 412 back.

The same contract as deals (tests/pipeline/test_deals_api.py), for each other
resource a client can change. If-Match compares strongly (RFC 9110 13.1.1).
"""

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import WebhookEndpoint
from metrics.models import KpiTarget
from pipeline import activities
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    ContentOfferFactory,
    LeadFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class Resource:
    path: str
    user: str  # fixture name of who may change it
    change: dict[str, Any]  # a PATCH body
    other_change: dict[str, Any]  # another PATCH body, of another field
    make: Any  # (cast) -> record


def _activity(cast):
    lead = LeadFactory(owner=cast["rep"])
    return activities.activity_log(by=cast["rep"], kind="note", lead=lead)


RESOURCES = {
    "leads": Resource(
        "leads",
        "rep",
        {"first_name": "Ada"},
        {"phone": "+44 1"},
        lambda cast: LeadFactory(owner=cast["rep"]),
    ),
    "companies": Resource(
        "companies",
        "rep",
        {"industry": "Energy"},
        {"employees": 12},
        lambda cast: CompanyFactory(owner=cast["rep"]),
    ),
    "contacts": Resource(
        "contacts",
        "rep",
        {"job_title": "CTO"},
        {"phone": "+44 2"},
        lambda cast: ContactFactory(owner=cast["rep"]),
    ),
    "subscriptions": Resource(
        "subscriptions",
        "rep",
        # Plan and MRR change only through change/ (the MRR ledger keeps the
        # history); a start-day correction is the field a PATCH writes.
        {"started_on": "2025-01-02"},
        {"started_on": "2025-01-03"},
        lambda cast: SubscriptionFactory(company=CompanyFactory(owner=cast["rep"])),
    ),
    "activities": Resource(
        "activities", "rep", {"notes": "Call back"}, {"notes": "Sent deck"}, _activity
    ),
    "offers": Resource(
        "offers",
        "manager",
        {"title": "New title"},
        {"description": "Longer"},
        lambda cast: ContentOfferFactory(),
    ),
    "targets": Resource(
        "metrics/targets",
        "manager",
        {"value": "12.0000"},
        {"value": "15.0000"},
        lambda cast: KpiTarget.objects.create(
            kpi="new_leads",
            period_kind="month",
            period_start=datetime.date(2026, 1, 1),
            owner=cast["rep"],
            value=10,
        ),
    ),
    "webhooks": Resource(
        "webhooks",
        "integration",
        {"active": False},
        {"url": "https://hooks.example/other"},
        lambda cast: WebhookEndpoint.objects.create(
            created_by=cast["integration"],
            url="https://hooks.example/in",
            events=["lead.created"],
            secret="s" * 32,
        ),
    ),
}


@pytest.fixture
def cast(rep, manager, integration):
    return {"rep": rep, "manager": manager, "integration": integration}


@pytest.fixture(params=list(RESOURCES))
def resource(request, cast, api_as):
    spec = RESOURCES[request.param]
    record = spec.make(cast)
    url = f"/api/v1/{spec.path}/{record.pk}/"
    return spec, record, url, api_as(cast[spec.user])


def test_read_and_write_answer_the_version_as_etag(resource):
    spec, record, url, api = resource
    response = api.get(url)
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json()["version"] == 1

    response = api.patch(url, spec.change, HTTP_IF_MATCH='"1"')

    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"2"'
    assert response.json()["version"] == 2
    record.refresh_from_db()
    assert record.version == 2


def test_stale_if_match_is_412_with_the_record_as_it_is_now(resource):
    spec, record, url, api = resource
    assert api.patch(url, spec.change).status_code == 200  # now at version 2

    response = api.patch(url, spec.other_change, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    body = response.json()
    assert body["errors"][0]["code"] == "stale_version"
    assert body["current"]["version"] == 2
    field, value = next(iter(spec.change.items()))
    assert body["current"][field] == value
    assert response["ETag"] == '"2"'
    record.refresh_from_db()
    assert record.version == 2


def test_weak_if_match_never_matches(resource):
    # RFC 9110 13.1.1: If-Match uses the strong comparison.
    spec, record, url, api = resource
    response = api.patch(url, spec.change, HTTP_IF_MATCH='W/"1"')
    assert response.status_code == 412
    record.refresh_from_db()
    assert record.version == 1


def test_malformed_if_match_is_a_400_on_the_header(resource):
    spec, _record, url, api = resource
    response = api.patch(url, spec.change, HTTP_IF_MATCH="version one")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "If-Match"


def test_stale_delete_is_refused(api_as, rep):
    company = CompanyFactory(owner=rep)
    api = api_as(rep)
    api.patch(f"/api/v1/companies/{company.pk}/", {"industry": "Retail"})

    response = api.delete(f"/api/v1/companies/{company.pk}/", HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert api.get(f"/api/v1/companies/{company.pk}/").status_code == 200
    deleted = api.delete(f"/api/v1/companies/{company.pk}/", HTTP_IF_MATCH='"2"')
    assert deleted.status_code == 204


def test_sending_a_record_back_unchanged_keeps_its_version(api_as, rep):
    company = CompanyFactory(owner=rep)
    url = f"/api/v1/companies/{company.pk}/"
    api = api_as(rep)
    read = api.get(url).json()

    response = api.put(url, {k: v for k, v in read.items() if k != "id"})

    assert response.status_code == 200
    assert response["ETag"] == '"1"'


def test_create_answers_version_one_as_etag(api_as, rep):
    response = api_as(rep).post("/api/v1/companies/", {"name": "Initech"})
    assert response.status_code == 201
    assert response["ETag"] == '"1"'


def test_service_only_lead_fields_are_read_only_in_updates(api_as, rep):
    lead = LeadFactory(owner=rep, status="lead", touch_count=3, activity_count=2)

    response = api_as(rep).patch(
        f"/api/v1/leads/{lead.pk}/",
        {
            "status": "converted",
            "score": 99,
            "converted_at": "2026-01-01T00:00:00Z",
            "touch_count": 0,
            "activity_count": 0,
            "version": 40,
            "first_name": "Ada",
        },
    )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.status, lead.score, lead.converted_at) == ("lead", None, None)
    assert (lead.touch_count, lead.activity_count) == (3, 2)
    assert (lead.first_name, lead.version) == ("Ada", 2)


def test_an_update_writes_only_the_fields_it_names(api_as, rep):
    company = CompanyFactory(owner=rep, industry="Retail", employees=5)

    with CaptureQueriesContext(connection) as queries:
        api_as(rep).patch(f"/api/v1/companies/{company.pk}/", {"employees": 6})

    (update,) = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert '"employees"' in update
    assert '"industry"' not in update
    assert '"name"' not in update


def test_lead_update_adds_one_query_for_its_lock(
    api_as, rep, django_assert_num_queries
):
    lead = LeadFactory(owner=rep)
    api = api_as(rep)
    # 1 the lead (get_object, visibility), 2 the lead locked, SELECT ... FOR
    # UPDATE (the one query the version check adds), 3 the UPDATE of the named
    # field and the version, 4 the lead's deal (the response's "deal").
    # SAVEPOINT and RELEASE: the service's transaction nested in the test's;
    # in production the request runs in autocommit, where they are BEGIN and
    # COMMIT.
    with django_assert_num_queries(6):
        response = api.patch(f"/api/v1/leads/{lead.pk}/", {"job_title": "CFO"})
    assert response.status_code == 200


def test_company_update_adds_one_query_for_its_lock(
    api_as, rep, django_assert_num_queries
):
    company = CompanyFactory(owner=rep)
    api = api_as(rep)
    # 1 the company (get_object), 2 can_change (CanChangeOrReadOnly), 3 the
    # company locked (the one query the version check adds), 4 the UPDATE;
    # SAVEPOINT and RELEASE as above.
    with django_assert_num_queries(6):
        response = api.patch(f"/api/v1/companies/{company.pk}/", {"industry": "Ag"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ('"²"', 412),  # a valid opaque tag, but not one of ours
        ('"' + "9" * 5000 + '"', 412),
        ("9" * 5000, 412),
        ('"1" "2"', 400),
        ("W/1", 400),
    ],
)
def test_odd_if_match_values_are_a_4xx_never_a_500(api_as, rep, header, status):
    company = CompanyFactory(owner=rep)
    response = api_as(rep).patch(
        f"/api/v1/companies/{company.pk}/", {"industry": "x"}, HTTP_IF_MATCH=header
    )
    assert response.status_code == status
