import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.models import Lead, Touch
from pipeline import activities
from pipeline.models import Activity
from tests.factories import ActivityFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

ACTIVITY_FIELDS = {
    "id",
    "kind",
    "direction",
    "outcome",
    "is_cold_call",
    "done",
    "due_at",
    "occurred_at",
    "duration_seconds",
    "lead",
    "contact",
    "deal",
    "owner",
    "notes",
    "version",
}


def call(rep, **kwargs):
    kwargs.setdefault("kind", "call")
    kwargs.setdefault("direction", "outbound")
    kwargs.setdefault("outcome", "no_answer")
    return activities.activity_log(by=rep, **kwargs)


def test_outbound_call_to_a_prospect_is_a_cold_call(rep):
    prospect = LeadFactory(status="prospect", owner=rep, channel="outbound")
    assert call(rep, lead=prospect).is_cold_call is True


def test_call_to_a_prospect_with_an_inbound_touch_is_not_cold(rep):
    prospect = LeadFactory(status="prospect", owner=rep)
    Touch.objects.create(
        lead=prospect,
        channel="inbound",
        source="website_form",
        occurred_at=timezone.now(),
    )
    assert call(rep, lead=prospect).is_cold_call is False


@pytest.mark.parametrize(
    ("status", "kind", "direction"),
    [
        ("lead", "call", "outbound"),  # they gave their data: not cold
        ("prospect", "email", "outbound"),  # a cold e-mail, not a cold call
        ("prospect", "call", "inbound"),  # they called us
    ],
)
def test_other_activities_are_not_cold_calls(rep, status, kind, direction):
    lead = LeadFactory(status=status, owner=rep)
    assert call(rep, lead=lead, kind=kind, direction=direction).is_cold_call is False


def test_logging_updates_the_leads_engagement_counters(rep):
    lead = LeadFactory(owner=rep)
    earlier = timezone.now() - datetime.timedelta(days=3)
    call(rep, lead=lead, occurred_at=earlier)
    call(rep, lead=lead)
    call(rep, lead=lead, occurred_at=earlier - datetime.timedelta(days=1))
    lead.refresh_from_db()
    assert lead.activity_count == 3
    # The earliest activity, even logged late: response time is measured to it.
    assert lead.first_activity_at == earlier - datetime.timedelta(days=1)
    assert lead.last_activity_at > earlier  # the latest, not the last logged


def test_logging_against_a_deal_touches_it_without_a_version_bump(rep, make_deal):
    deal = make_deal(rep)
    call(rep, deal=deal)
    deal.refresh_from_db()
    assert deal.last_activity_at is not None
    assert deal.version == 1


def test_rep_cannot_log_against_another_reps_lead_or_deal(rep, other_rep, make_deal):
    with pytest.raises(ValidationError) as exc:
        call(rep, lead=LeadFactory(owner=other_rep), deal=make_deal(other_rep))
    assert set(exc.value.message_dict) == {"lead", "deal"}
    assert Activity.objects.count() == 0


def test_activity_needs_a_subject(rep):
    with pytest.raises(ValidationError) as exc:
        call(rep)
    assert "lead" in exc.value.message_dict


def test_api_logs_an_activity_and_marks_the_cold_call(api_as, rep):
    prospect = LeadFactory(status="prospect", owner=rep)
    response = api_as(rep).post(
        "/api/v1/activities/",
        {
            "kind": "call",
            "outcome": "connected",
            "lead": prospect.pk,
            "duration_seconds": 95,
            "is_cold_call": False,  # read-only: decided by the service
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ACTIVITY_FIELDS
    assert (body["is_cold_call"], body["owner"], body["direction"]) == (
        True,
        rep.pk,
        "outbound",
    )
    assert Lead.objects.get(pk=prospect.pk).activity_count == 1


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"kind": "fax", "lead": None}, "kind"),
        ({"kind": "call", "outcome": "maybe"}, "outcome"),
        ({"kind": "call", "duration_seconds": -3}, "duration_seconds"),
        ({"kind": "call"}, "lead"),
    ],
)
def test_bad_activity_input_is_400_with_a_field(api_as, rep, payload, attr):
    response = api_as(rep).post("/api/v1/activities/", payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr


def test_api_refuses_a_lead_outside_the_reps_scope(api_as, rep, foreign_rep):
    lead = LeadFactory(owner=foreign_rep)
    response = api_as(rep).post(
        "/api/v1/activities/", {"kind": "call", "lead": lead.pk}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "lead"


def test_activity_list_is_scoped_and_filterable(
    api_as, manager, rep, other_rep, foreign_rep, django_assert_max_num_queries
):
    cold = call(rep, lead=LeadFactory(status="prospect", owner=rep))
    ActivityFactory(lead=LeadFactory(owner=other_rep), outcome="voicemail")
    ActivityFactory(lead=LeadFactory(owner=foreign_rep))
    ActivityFactory.create_batch(20, lead=LeadFactory(owner=rep), kind="email")
    api = api_as(manager)
    # 1 COUNT, 1 page.
    with django_assert_max_num_queries(2):
        response = api.get("/api/v1/activities/", {"page_size": 100})
    assert response.json()["count"] == 22
    assert [
        a["id"]
        for a in api.get("/api/v1/activities/", {"is_cold_call": "true"}).json()[
            "results"
        ]
    ] == [cold.pk]
    assert api.get("/api/v1/activities/", {"outcome": "voicemail"}).json()["count"] == 1
    assert (
        api.get("/api/v1/activities/", {"owner": rep.pk, "kind": "call"}).json()[
            "count"
        ]
        == 1
    )
    after = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    assert (
        api.get("/api/v1/activities/", {"occurred_after": after}).json()["count"] == 22
    )
    assert api_as(rep).get("/api/v1/activities/").json()["count"] == 21


def test_contact_activity_is_allowed_from_the_shared_address_book(rep):
    contact = ContactFactory()
    assert call(rep, contact=contact, kind="meeting").contact == contact
