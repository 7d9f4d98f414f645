import threading

import pytest
from django.db import connection

from crm.models import Role
from leads.models import Lead, LeadStatus, Touch
from leads.views import CaptureThrottle
from tests.factories import ContentOfferFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/capture/"


@pytest.fixture
def offer():
    return ContentOfferFactory(
        slug="sales-playbook", external_url="https://x.example/p"
    )


@pytest.fixture
def inbound_team(team, rep, other_rep):
    team.handles_inbound = True
    team.save()
    return team


def body(**overrides):
    return {
        "offer": "sales-playbook",
        "first_name": "Ana",
        "last_name": "Lima",
        "email": "ana@corp.example",
        "company": "Corp",
        "job_title": "CTO",
        "phone": "+33 1 23",
        "consent": True,
        **overrides,
    }


def test_capture_creates_an_inbound_lead_with_a_touch(anon_api, offer, inbound_team):
    response = anon_api.post(URL, body(), HTTP_REFERER="https://www.x.example/playbook")
    assert response.status_code == 201
    # Only what the visitor needs: no lead id, no owner.
    assert response.json() == {
        "offer": "sales-playbook",
        "content_url": "https://x.example/p",
    }
    lead = Lead.objects.get()
    assert (lead.status, lead.channel, lead.source) == (
        "lead",
        "inbound",
        "content_download",
    )
    # Consent counts only once confirmed through the e-mailed link.
    assert (lead.offer, lead.touch_count, lead.consent) == (offer, 1, False)
    assert lead.consent_records.get().action == "requested"
    assert lead.became_lead_at is not None
    touch = lead.touches.get()
    assert touch.offer == offer
    assert touch.page_url == "https://www.x.example/playbook"
    assert touch.ip_address == "127.0.0.1"


def test_second_capture_in_another_case_updates_the_same_lead(
    anon_api, offer, inbound_team
):
    anon_api.post(URL, body(phone=""))
    other = ContentOfferFactory(slug="checklist")
    response = anon_api.post(
        URL,
        body(email="ANA@Corp.Example", offer="checklist", phone="555", first_name="X"),
    )
    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.touch_count == 2
    assert lead.first_name == "Ana"  # data held is never overwritten
    assert lead.phone == ""  # nor filled in: the touch keeps it for the owner
    assert lead.touches.order_by("pk").last().submitted["phone"] == "555"
    assert lead.offer == offer  # first capture's offer
    assert list(lead.touches.values_list("offer", flat=True).order_by("pk")) == [
        offer.pk,
        other.pk,
    ]


def test_prospect_who_captures_becomes_a_lead(anon_api, offer, rep):
    prospect = LeadFactory(
        owner=rep, status="prospect", email="ana@corp.example", channel="outbound"
    )
    anon_api.post(URL, body())
    prospect.refresh_from_db()
    assert prospect.status == LeadStatus.LEAD
    assert prospect.became_lead_at is not None
    assert prospect.owner == rep  # an existing record keeps its owner
    assert prospect.channel == "outbound"  # and its first attribution
    assert prospect.version == 2  # its status changed: an open form is stale


def test_a_repeat_capture_that_changes_no_field_keeps_the_version(anon_api, offer, rep):
    lead = LeadFactory(
        owner=rep,
        email="ana@corp.example",
        offer=offer,
        phone="1",
        job_title="Buyer",
        consent=True,
    )
    anon_api.post(URL, body())
    lead.refresh_from_db()
    # A touch is engagement, not an edit of the record.
    assert (lead.touch_count, lead.version) == (1, 1)


def test_new_inbound_leads_go_round_robin_to_active_reps(anon_api, offer, inbound_team):
    reps = sorted(inbound_team.members.all(), key=lambda u: u.pk)
    UserFactory(username="inactive", team=inbound_team, is_active=False)
    owners = []
    for n in range(5):
        anon_api.post(URL, body(email=f"p{n}@corp.example"))
        owners.append(Lead.objects.get(email=f"p{n}@corp.example").owner)
    assert owners == [reps[0], reps[1], reps[0], reps[1], reps[0]]


def test_round_robin_skips_other_teams_and_managers(
    anon_api, offer, inbound_team, foreign_rep
):
    anon_api.post(URL, body())
    owner = Lead.objects.get().owner
    assert owner.team == inbound_team
    assert owner.role == Role.REP


def test_without_inbound_reps_the_team_manager_gets_the_lead(anon_api, offer, team):
    team.handles_inbound = True
    team.save()
    anon_api.post(URL, body())
    assert Lead.objects.get().owner == team.manager


def test_without_inbound_team_the_first_admin_gets_the_lead(
    anon_api, offer, rep, admin_user
):
    anon_api.post(URL, body())
    assert Lead.objects.get().owner == admin_user


def test_honeypot_answers_201_but_saves_nothing(anon_api, offer, inbound_team):
    response = anon_api.post(URL, body(website="http://spam.example"))
    assert response.status_code == 201
    assert not Lead.objects.exists()
    assert not Touch.objects.exists()


def test_capture_is_throttled_per_client_address(
    anon_api, offer, inbound_team, monkeypatch
):
    monkeypatch.setattr(CaptureThrottle, "THROTTLE_RATES", {"capture": "2/min"})
    for n in range(2):
        assert anon_api.post(URL, body(email=f"t{n}@x.example")).status_code == 201
    response = anon_api.post(URL, body(email="t3@x.example"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    # A forged X-Forwarded-For does not escape the limit...
    forged = anon_api.post(
        URL, body(email="t5@x.example"), HTTP_X_FORWARDED_FOR="1.2.3.4"
    )
    assert forged.status_code == 429
    # ...but another address still gets through.
    other = anon_api.post(URL, body(email="t4@x.example"), REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 201


def test_capture_needs_no_csrf_token(offer, inbound_team):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    assert client.post(URL, body(), format="json").status_code == 201


def _errors(response):
    return {e["attr"]: e["detail"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"offer": "no-such-offer"}, "offer"),
        ({"offer": ""}, "offer"),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"phone": "1" * 41}, "phone"),
        ({"consent": "maybe"}, "consent"),
    ],
)
def test_bad_capture_input_is_a_400_per_field(
    anon_api, offer, inbound_team, overrides, field
):
    response = anon_api.post(URL, body(**overrides))
    assert response.status_code == 400
    assert field in _errors(response)
    assert not Lead.objects.exists()


def test_inactive_offer_is_refused(anon_api, inbound_team):
    ContentOfferFactory(slug="old", active=False)
    response = anon_api.post(URL, body(offer="old"))
    assert response.status_code == 400
    assert _errors(response)["offer"] == "No active content offer has this slug."


def test_capture_refuses_get(anon_api):
    assert anon_api.get(URL).status_code == 405


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so there is no race",
)
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_captures_of_one_email_make_one_lead_and_two_touches(
    offer, inbound_team
):
    from django.db import connections

    from leads.services import lead_capture

    barrier = threading.Barrier(2)
    errors = []

    def capture(n):
        try:
            barrier.wait()
            lead_capture(
                offer=offer,
                first_name=f"Ana{n}",
                last_name="Lima",
                email="Race@Corp.example" if n else "race@corp.example",
                company="Corp",
                job_title="",
                phone="",
                consent=True,
                ip_address="127.0.0.1",
                page_url="",
                user_agent="test",
            )
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=capture, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    lead = Lead.objects.get()
    assert lead.touch_count == 2
    assert lead.touches.count() == 2


def test_capture_that_loses_the_insert_race_updates_the_winner(offer, inbound_team):
    # given a lead a concurrent capture inserted: the capture inserts first
    # (ON CONFLICT DO NOTHING), so this is the row its insert meets
    from leads import services

    winner = LeadFactory(email="race@corp.example", owner=inbound_team.manager)
    # when our insert hits the unique index
    lead = services.lead_capture(
        offer=offer,
        first_name="Ana",
        last_name="",
        email="RACE@corp.example",
        company="",
        job_title="",
        phone="",
        consent=False,
        ip_address=None,
        page_url="",
        user_agent="",
    )
    # then it becomes an update of the winner, and it takes no round-robin turn
    assert lead.pk == winner.pk
    assert Lead.objects.count() == 1
    assert lead.touches.count() == 1
    inbound_team.refresh_from_db()
    assert inbound_team.inbound_cursor == 0


def test_capture_accepts_a_plain_html_form_post(anon_api, offer, inbound_team):
    response = anon_api.post(URL, {**body(), "consent": "on"}, format="multipart")
    assert response.status_code == 201
    assert Lead.objects.get().consent_records.get().action == "requested"


def test_malformed_json_is_a_400_not_a_500(anon_api, offer):
    response = anon_api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
