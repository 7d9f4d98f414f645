"""A public capture never edits a person; consent is evidence, with double opt-in.

Anyone may post the capture form with anyone's e-mail: for a known e-mail it
only adds a touch recording what was submitted. Consent ticked on a public form
is a request until the person confirms through the signed link e-mailed to
them; every consent given or withdrawn is an append-only record.
"""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.db import connection

from leads import services
from leads.consent import confirmation_token
from leads.models import ConsentRecord, Lead, LeadStatus
from pipeline.activities import activity_log
from tests.factories import ContentOfferFactory, LeadFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/capture/"
NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def offer(team, rep):
    team.handles_inbound = True
    team.save()
    return ContentOfferFactory(slug="playbook", title="Sales playbook")


def _capture(client, **overrides):
    return client.post(
        URL,
        {
            "offer": "playbook",
            "first_name": "Mallory",
            "last_name": "Evil",
            "email": "ana@corp.example",
            "company": "Evil Corp",
            "job_title": "Chief Hijacker",
            "phone": "+1 555 0100",
            "consent": True,
            **overrides,
        },
        format="json",
    )


def _link(message) -> str:
    return re.search(r"http://\S+/offers/consent/\S+/", message.body).group(0)


def test_capture_of_a_known_email_does_not_change_the_person(
    anon_api, offer, other_rep, django_capture_on_commit_callbacks
):
    lead = LeadFactory(
        owner=other_rep,
        email="ana@corp.example",
        first_name="Ana",
        last_name="Lima",
        company_name="Corp",
        phone="",
        job_title="",
        consent=False,
        offer=ContentOfferFactory(slug="earlier"),
    )
    before = Lead.objects.values().get(pk=lead.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = _capture(anon_api)

    assert response.status_code == 201
    after = Lead.objects.values().get(pk=lead.pk)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"touch_count"}  # no field, owner or consent
    touch = lead.touches.get()
    assert touch.submitted == {
        "first_name": "Mallory",
        "last_name": "Evil",
        "email": "ana@corp.example",
        "company_name": "Evil Corp",
        "job_title": "Chief Hijacker",
        "phone": "+1 555 0100",
        "consent": True,
    }
    assert touch.promoted_to_lead is False


def test_a_prospect_who_captures_becomes_a_lead_recorded_on_the_touch(
    anon_api, offer, rep
):
    prospect = LeadFactory(owner=rep, status="prospect", email="ana@corp.example")

    _capture(anon_api)

    prospect.refresh_from_db()
    assert prospect.status == LeadStatus.LEAD
    assert prospect.became_lead_at == NOW
    assert prospect.touches.get().promoted_to_lead is True


def test_consent_counts_only_after_the_emailed_link_is_confirmed(
    anon_api, client, offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _capture(anon_api)
    lead = Lead.objects.get()
    assert lead.consent is False
    (message,) = mail.outbox
    assert message.to == ["ana@corp.example"]
    link = _link(message)

    shown = client.get(link)  # a mail scanner following the link consents nothing
    assert shown.status_code == 200
    lead.refresh_from_db()
    assert lead.consent is False

    confirmed = client.post(link)

    assert confirmed.status_code == 200
    lead.refresh_from_db()
    assert lead.consent is True
    request, given = lead.consent_records.order_by("pk")
    assert (request.action, given.action) == ("requested", "given")
    assert given.confirms == request
    assert (given.offer, given.text) == (offer, request.text)
    assert given.recorded_at == NOW


def test_confirming_twice_records_one_consent(anon_api, client, offer):
    _capture(anon_api)
    request = ConsentRecord.objects.get()
    token = confirmation_token(request)

    client.post(f"/offers/consent/{token}/")
    client.post(f"/offers/consent/{token}/")

    assert ConsentRecord.objects.filter(action="given").count() == 1


def test_a_forged_or_expired_link_confirms_nothing(anon_api, client, offer):
    _capture(anon_api)
    token = confirmation_token(ConsentRecord.objects.get())

    forged = client.post(f"/offers/consent/{token[:-2]}xx/")
    with time_machine.travel(NOW + datetime.timedelta(days=15), tick=False):
        expired = client.post(f"/offers/consent/{token}/")

    assert (forged.status_code, expired.status_code) == (400, 400)
    assert b"expired" in expired.content
    assert Lead.objects.get().consent is False


def test_a_confirmed_person_is_not_asked_again(
    anon_api, rep, offer, django_capture_on_commit_callbacks
):
    LeadFactory(owner=rep, email="ana@corp.example", consent=True)

    with django_capture_on_commit_callbacks(execute=True):
        _capture(anon_api)

    assert mail.outbox == []
    assert not ConsentRecord.objects.exists()


def test_without_the_box_ticked_nothing_is_requested(
    anon_api, offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _capture(anon_api, consent=False)

    assert mail.outbox == []
    assert not ConsentRecord.objects.exists()


def test_consent_records_are_append_only(rep):
    lead = LeadFactory(owner=rep)
    services.lead_consent_record(lead=lead, by=rep, given=True)
    record = ConsentRecord.objects.get()

    with pytest.raises(ValueError, match="append-only"):
        record.save()
    with pytest.raises(ValueError, match="append-only"):
        record.delete()


def test_a_rep_records_a_withdrawal_and_the_api_keeps_the_history(api_as, rep):
    client = api_as(rep)
    lead = services.lead_create(by=rep, email="ana@corp.example", consent=True)

    withdrawn = client.post(
        f"/api/v1/leads/{lead.pk}/consent/",
        {"given": False, "text": "Asked on the phone to be left alone."},
    )
    ignored = client.patch(f"/api/v1/leads/{lead.pk}/", {"consent": True})

    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent"] is False
    assert ignored.json()["consent"] is False  # consent changes through records
    page = client.get(f"/api/v1/leads/{lead.pk}/consent-records/").json()
    history = page["results"]
    assert [(row["action"], row["recorded_by"]) for row in history] == [
        ("withdrawn", rep.pk),
        ("given", rep.pk),
    ]


def test_another_reps_lead_cannot_get_consent_recorded(api_as, rep, foreign_rep):
    lead = LeadFactory(owner=foreign_rep)

    response = api_as(rep).post(f"/api/v1/leads/{lead.pk}/consent/", {"given": True})

    assert response.status_code == 404
    assert not ConsentRecord.objects.exists()


def test_capture_of_a_known_email_stays_a_few_queries(
    anon_api, rep, offer, django_assert_max_num_queries
):
    LeadFactory(owner=rep, status="prospect", email="ana@corp.example")

    # offer lookup, SAVEPOINT, the lead INSERT that the known e-mail makes a
    # no-op, lead SELECT FOR UPDATE, the prospect-to-lead LeadStatusChange
    # INSERT and its daily rollup upsert, lead UPDATE, touch INSERT, consent
    # request INSERT, its upsert into the daily new-lead rollup, RELEASE
    # SAVEPOINT. Nobody has called it yet: no first response to look for, no
    # cold call to mark.
    with django_assert_max_num_queries(11):
        assert _capture(anon_api).status_code == 201


def test_capture_of_a_called_prospect_adds_its_first_response_and_call_marks(
    anon_api, rep, offer, django_assert_max_num_queries
):
    prospect = LeadFactory(owner=rep, status="prospect", email="ana@corp.example")
    call = activity_log(by=rep, kind="call", outcome="no_answer", lead=prospect)

    # The 11 above, plus the first response since it became a lead (the
    # call, logged at the same moment, answers it), the UPDATE marking the
    # cold call and the won-over rollup's row it adds; on SQLite its response
    # time's rollup rows (its day, its month) are two more statements (on
    # PostgreSQL, part of the history row's, with the new lead's count: one
    # fewer than before).
    with django_assert_max_num_queries(12 if connection.vendor == "postgresql" else 16):
        assert _capture(anon_api).status_code == 201
    call.refresh_from_db()
    assert call.is_cold_call
    assert call.led_to_lead
