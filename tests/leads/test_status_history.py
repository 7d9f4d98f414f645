"""Every status a person reaches is a LeadStatusChange row, written with the change."""

import datetime
import importlib
import io

import pytest
import time_machine
from django.apps import apps
from django.test import Client

from leads import services
from leads.importing import ImportMode, leads_import
from leads.models import Lead, LeadStatusChange
from pipeline.activities import activity_log
from pipeline.services import lead_convert
from tests.factories import ContentOfferFactory, LeadFactory

pytestmark = pytest.mark.django_db


def history(lead) -> list[tuple[str, str]]:
    return list(
        LeadStatusChange.objects.filter(lead=lead).values_list(
            "from_status", "to_status"
        )
    )


def _prospect(rep, **fields):
    return services.lead_create(
        by=rep, email=fields.pop("email", "pia@acme.example"), status="prospect"
    )


def test_a_record_goes_from_prospect_to_converted_with_a_row_per_status(rep):
    lead = _prospect(rep)

    services.lead_promote(lead=lead, by=rep)
    services.lead_qualify(
        lead=lead, by=rep, budget=True, authority=True, need=True, timeline=True
    )
    lead_convert(lead=lead, by=rep)

    assert history(lead) == [
        ("", "prospect"),
        ("prospect", "lead"),
        ("lead", "qualified"),
        ("qualified", "converted"),
    ]
    rows = LeadStatusChange.objects.filter(lead=lead)
    assert {row.changed_by for row in rows} == {rep}
    lead.refresh_from_db()
    promoted = rows.get(to_status="lead")
    assert promoted.changed_at == lead.became_lead_at


def test_capture_of_a_prospect_is_a_history_row(anon_api, rep):
    offer = ContentOfferFactory()
    lead = _prospect(rep)

    anon_api.post(
        "/api/v1/capture/",
        {
            "offer": offer.slug,
            "email": "pia@acme.example",
            "first_name": "Pia",
            "consent": True,
        },
        format="json",
    )

    assert history(lead) == [("", "prospect"), ("prospect", "lead")]


def test_promote_endpoint_makes_a_prospect_a_lead(api_as, rep):
    lead = _prospect(rep)

    response = api_as(rep).post(f"/api/v1/leads/{lead.pk}/promote/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "lead"
    assert response.json()["became_lead_at"] is not None
    assert history(lead)[-1] == ("prospect", "lead")


def test_promoting_a_lead_is_a_400_and_records_nothing(api_as, rep):
    # No record goes back to prospect: retrying can never succeed.
    lead = services.lead_create(by=rep, email="leo@acme.example")

    response = api_as(rep).post(f"/api/v1/leads/{lead.pk}/promote/")

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("status", "invalid")
    assert history(lead) == [("", "lead")]


def test_promote_is_scoped_like_every_lead_action(api_as, rep, foreign_rep):
    lead = _prospect(foreign_rep)

    assert api_as(rep).post(f"/api/v1/leads/{lead.pk}/promote/").status_code == 404


def test_admin_promotes_selected_prospects(rep):
    lead = _prospect(rep)
    client = Client()
    client.force_login(rep)

    response = client.post(
        "/admin/leads/prospect/",
        {"action": "promote", "_selected_action": [lead.pk]},
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "lead"
    assert history(lead)[-1] == ("prospect", "lead")


@pytest.mark.parametrize(
    ("kind", "outcome", "promoted"),
    [
        ("call", "meeting_booked", True),
        ("meeting", "meeting_booked", True),
        ("call", "connected", False),
        ("call", "not_interested", False),
        ("email", "meeting_booked", False),
        ("note", "meeting_booked", False),
    ],
)
def test_a_call_or_meeting_that_books_a_meeting_makes_the_prospect_a_lead(
    rep, kind, outcome, promoted
):
    created = datetime.datetime(2026, 3, 2, 9, tzinfo=datetime.UTC)
    moment = created + datetime.timedelta(hours=2)
    with time_machine.travel(created, tick=False):
        lead = _prospect(rep)
    with time_machine.travel(moment + datetime.timedelta(hours=1), tick=False):
        activity = activity_log(
            by=rep, kind=kind, outcome=outcome, lead=lead, occurred_at=moment
        )

    lead.refresh_from_db()
    assert (lead.status == "lead") is promoted
    assert (("prospect", "lead") in history(lead)) is promoted
    if promoted:
        # Dated when the interest was shown; a cold call stays a cold call.
        assert lead.became_lead_at == moment
        assert activity.is_cold_call is (kind == "call")


def test_import_records_what_each_row_was_created_as_and_raised(rep):
    existing = _prospect(rep, email="old@x.example")
    text = "email,status\np@x.example,prospect\nl@x.example,lead\nold@x.example,lead\n"

    leads_import(file=io.StringIO(text), by=rep, mode=ImportMode.KEEP_VALID)

    assert history(Lead.objects.get(email="p@x.example")) == [("", "prospect")]
    assert history(Lead.objects.get(email="l@x.example")) == [("", "lead")]
    assert history(existing) == [("", "prospect"), ("prospect", "lead")]
    raised = LeadStatusChange.objects.get(lead=existing, to_status="lead")
    existing.refresh_from_db()
    assert raised.changed_at == existing.became_lead_at


def test_history_rows_are_append_only(rep):
    row = LeadStatusChange.objects.get(lead=_prospect(rep))

    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()


def test_backfill_rebuilds_history_from_the_timestamps(rep):
    created = datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC)
    as_lead = LeadFactory(
        owner=rep,
        status="disqualified",
        became_lead_at=created + datetime.timedelta(seconds=5),
        disqualified_at=created + datetime.timedelta(days=2),
    )
    as_prospect = LeadFactory(
        owner=rep,
        status="converted",
        became_lead_at=created + datetime.timedelta(days=1),
        qualified_at=created + datetime.timedelta(days=3),
        converted_at=created + datetime.timedelta(days=4),
    )
    still = LeadFactory(owner=rep, status="prospect")
    Lead.objects.update(created_at=created)
    migration = importlib.import_module(
        "leads.migrations.0010_backfill_lead_status_changes"
    )

    migration.forward(apps, None)

    assert history(as_lead) == [("", "lead"), ("lead", "disqualified")]
    assert history(as_prospect) == [
        ("", "prospect"),
        ("prospect", "lead"),
        ("lead", "qualified"),
        ("qualified", "converted"),
    ]
    assert history(still) == [("", "prospect")]
    migration.reverse(apps, None)
    assert not LeadStatusChange.objects.exists()
