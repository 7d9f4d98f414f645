import datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from leads import services as lead_services
from leads.models import LeadStatus
from pipeline import services
from pipeline.activities import activity_log
from pipeline.models import Activity, Deal, DealStatus, Stage
from tests.factories import CompanyFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def test_anonymous_users_are_sent_to_log_in(rep):
    lead = LeadFactory(owner=rep)
    response = Client().get(f"/leads/{lead.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("kind", ["leads", "deals"])
def test_a_record_out_of_scope_is_a_404_like_a_missing_one(
    kind, rep, foreign_rep, client_for, make_deal
):
    record = (
        LeadFactory(owner=foreign_rep) if kind == "leads" else make_deal(foreign_rep)
    )
    client = client_for(rep)
    out_of_scope = client.get(f"/{kind}/{record.pk}/")
    missing = client.get(f"/{kind}/{record.pk + 1000}/")
    assert out_of_scope.status_code == missing.status_code == 404
    assert out_of_scope.content == missing.content


def test_actions_on_a_record_out_of_scope_are_404_and_change_nothing(
    rep, foreign_rep, client_for
):
    lead = LeadFactory(owner=foreign_rep)
    response = client_for(rep).post(f"/leads/{lead.pk}/log/", {"kind": "call"})
    assert response.status_code == 404
    assert not Activity.objects.exists()


def test_lead_timeline_shows_everything_newest_first(rep, client_for, captured_lead):
    # given a lead captured, called, qualified and converted on four days
    with time_machine.travel(START, tick=False):
        lead = captured_lead()
    with time_machine.travel(START + datetime.timedelta(days=1), tick=False):
        activity_log(by=rep, lead=lead, kind="call", notes="Asked for ROI")
    with time_machine.travel(START + datetime.timedelta(days=2), tick=False):
        lead_services.lead_qualify(
            lead=lead, by=rep, budget=True, authority=True, need=True, timeline=False
        )
    with time_machine.travel(START + datetime.timedelta(days=3), tick=False):
        deal = services.lead_convert(lead=lead, by=rep, amount=Decimal(5000))
        # when
        response = client_for(rep).get(f"/leads/{lead.pk}/")
    # then
    assert response.status_code == 200
    titles = [event.title for event in response.context["events"]]
    # The conversion and the deal's first row share a moment: conversion first.
    assert titles[:2] == [
        "Converted into a deal",
        "Deal created in Product presentation",
    ]
    assert titles[2].startswith("Qualified (score ")
    # The capture made the lead: its touch and its first status row.
    assert titles[3:] == [
        "Call (Outbound)",
        "Downloaded Pricing guide",
        "Arrived as a lead",
    ]
    html = response.content.decode()
    assert "Asked for ROI" in html
    assert f'href="/deals/{deal.pk}/"' in html


def test_log_a_call_from_the_lead_page(rep, client_for):
    lead = LeadFactory(owner=rep)
    response = client_for(rep).post(
        f"/leads/{lead.pk}/log/",
        {
            "kind": "call",
            "direction": "outbound",
            "outcome": "connected",
            "notes": "Hi",
        },
        follow=True,
    )
    assert response.redirect_chain == [(f"/leads/{lead.pk}/", 302)]
    activity = Activity.objects.get()
    assert (activity.lead, activity.owner, activity.outcome) == (lead, rep, "connected")
    assert "Call logged." in response.content.decode()


def test_a_bad_activity_form_answers_400_with_the_field_error(rep, client_for):
    lead = LeadFactory(owner=rep)
    response = client_for(rep).post(f"/leads/{lead.pk}/log/", {"kind": "fax"})
    assert response.status_code == 400
    assert "kind" in response.context["activity_form"].errors
    assert not Activity.objects.exists()


def test_qualify_and_disqualify_from_the_lead_page(rep, client_for):
    lead = LeadFactory(owner=rep)
    client = client_for(rep)
    response = client.post(f"/leads/{lead.pk}/qualify/", {"budget": "on", "need": "on"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED
    assert lead.qualifications.get().budget is True

    refused = client.post(f"/leads/{lead.pk}/disqualify/", {"reason": "other"})
    assert refused.status_code == 400  # "other" needs notes (the service's rule)
    assert refused.context["disqualify_form"].errors["notes"]
    lead.refresh_from_db()
    assert lead.status == LeadStatus.QUALIFIED


def test_a_stale_lead_page_decides_nothing_and_says_so(rep, client_for):
    lead = LeadFactory(owner=rep)
    client = client_for(rep)
    page = client.get(f"/leads/{lead.pk}/")
    loaded_at = page.context["qualify_form"].initial["version"]
    assert loaded_at == lead.version
    # someone else changed the lead after the page was loaded
    lead_services.lead_update(lead=lead, by=rep, job_title="CFO")
    lead.refresh_from_db()
    response = client.post(
        f"/leads/{lead.pk}/qualify/", {"budget": "on", "version": loaded_at}
    )
    assert response.status_code == 412
    assert "Someone changed this lead after you opened the page" in (
        response.content.decode()
    )
    lead.refresh_from_db()
    assert lead.status != LeadStatus.QUALIFIED
    assert not lead.qualifications.exists()
    # The page shows the lead as it is now, ready to retry.
    assert response.context["qualify_form"].initial["version"] == lead.version


def test_a_prospect_cannot_be_qualified_and_the_page_says_why(rep, client_for):
    prospect = LeadFactory(owner=rep, status="prospect")
    response = client_for(rep).post(f"/leads/{prospect.pk}/qualify/", {})
    assert response.status_code == 409
    assert "must become a lead first" in response.content.decode()


def test_convert_asks_for_amount_and_date_and_lands_on_the_deal(rep, client_for):
    lead = LeadFactory(owner=rep, company_name="Dupont SA", email="ada@dupont.fr")
    lead_services.lead_qualify(
        lead=lead, by=rep, budget=True, authority=True, need=True, timeline=True
    )
    response = client_for(rep).post(
        f"/leads/{lead.pk}/convert/",
        {"title": "", "amount": "12500.50", "expected_close_on": "2026-06-30"},
    )
    deal = Deal.objects.get(lead=lead)
    assert response.status_code == 302
    assert response["Location"] == f"/deals/{deal.pk}/"
    assert deal.amount == Decimal("12500.50")
    assert deal.expected_close_on == datetime.date(2026, 6, 30)
    assert deal.title == "Dupont SA deal"


def test_convert_without_an_amount_is_refused_and_makes_no_deal(rep, client_for):
    lead = LeadFactory(owner=rep)
    lead_services.lead_qualify(
        lead=lead, by=rep, budget=True, authority=True, need=True, timeline=True
    )
    response = client_for(rep).post(
        f"/leads/{lead.pk}/convert/", {"amount": "-1", "expected_close_on": "soon"}
    )
    assert response.status_code == 400
    errors = response.context["convert_form"].errors
    assert set(errors) == {"amount", "expected_close_on"}
    assert not Deal.objects.exists()


def test_deal_page_move_form_defaults_to_the_next_stage(rep, client_for, make_deal):
    deal = make_deal(rep, stage="consideration")
    response = client_for(rep).get(f"/deals/{deal.pk}/")
    form = response.context["move_form"]
    assert form.initial["stage"] == Stage.CLOSING
    html = response.content.decode()
    assert '<option value="closing" selected>' in html
    move_form_html = html.split(f"/deals/{deal.pk}/move/")[1].split("</form>")[0]
    assert 'value="consideration"' not in move_form_html  # where it is already


def test_move_win_lose_and_reopen_from_the_deal_page(rep, client_for, make_deal):
    deal = make_deal(rep, stage="consideration")
    client = client_for(rep)
    client.post(f"/deals/{deal.pk}/move/", {"stage": "closing", "version": 1})
    deal.refresh_from_db()
    assert (deal.stage, deal.version) == (Stage.CLOSING, 2)

    client.post(f"/deals/{deal.pk}/win/", {"version": 2})
    deal.refresh_from_db()
    assert deal.status == DealStatus.WON

    client.post(f"/deals/{deal.pk}/reopen/", {"version": 3, "stage": ""})
    deal.refresh_from_db()
    assert (deal.status, deal.stage) == (DealStatus.OPEN, Stage.CLOSING)

    client.post(f"/deals/{deal.pk}/lose/", {"version": 4, "reason": "price"})
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == (DealStatus.LOST, "price")
    events = client.get(f"/deals/{deal.pk}/").context["events"]
    assert [e.title for e in events][:4] == [
        "Lost",
        "Reopened in Closing",
        "Won",
        "Moved from Consideration to Closing",
    ]


def test_a_stale_page_changes_nothing_and_says_so(
    rep, other_rep, client_for, make_deal
):
    deal = make_deal(rep, stage="presentation")
    # someone else moved it after the rep's page was loaded at version 1
    services.deal_move(deal=deal, to_stage="consideration", by=rep)
    response = client_for(rep).post(
        f"/deals/{deal.pk}/move/", {"stage": "consideration", "version": 1}
    )
    assert response.status_code == 412
    assert "Someone changed this deal after you opened the page" in (
        response.content.decode()
    )
    deal.refresh_from_db()
    assert (deal.stage, deal.version) == (Stage.CONSIDERATION, 2)
    # The page shows the deal as it is now, ready to retry.
    assert response.context["move_form"].initial["version"] == 2


def test_win_outside_closing_is_refused_with_the_reason(rep, client_for, make_deal):
    deal = make_deal(rep, stage="presentation")
    response = client_for(rep).post(f"/deals/{deal.pk}/win/", {"version": 1})
    assert response.status_code == 409
    assert "only from the Closing stage" in response.content.decode()
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN


def test_company_page_shows_contacts_deals_and_their_timeline(
    rep, foreign_rep, client_for, make_deal
):
    company = CompanyFactory(name="Dupont SA", owner=rep)
    contact = ContactFactory(company=company, first_name="Ada", owner=rep)
    mine = make_deal(rep, title="Dupont renewal", company=company, contact=contact)
    make_deal(foreign_rep, title="Their Dupont deal", company=company)
    activity_log(by=rep, contact=contact, kind="email", notes="Sent deck")
    response = client_for(rep).get(f"/companies/{company.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Dupont renewal" in html
    assert "Their Dupont deal" not in html  # deals stay in the rep's scope
    titles = [e.title for e in response.context["events"]]
    assert titles == ["E-mail (Outbound)", "Deal created in Prospection"]
    assert response.context["deals"] == [mine]


def test_log_from_the_contact_page(rep, client_for):
    contact = ContactFactory(owner=rep)
    response = client_for(rep).post(
        f"/contacts/{contact.pk}/log/", {"kind": "meeting", "direction": "inbound"}
    )
    assert response.status_code == 302
    assert Activity.objects.get().contact == contact


def _busy_history(rep, make_deal, n):
    company = CompanyFactory(owner=rep)
    contact = ContactFactory(company=company, owner=rep)
    lead = LeadFactory(owner=rep)
    for _ in range(n):
        deal = make_deal(rep, company=company, contact=contact)
        services.deal_move(deal=deal, to_stage="closing", by=rep)
        activity_log(by=rep, lead=lead, kind="call")
        activity_log(by=rep, deal=deal, contact=contact, kind="note")
    return lead, deal, company, contact


@pytest.mark.parametrize("n", [1, 6])
def test_record_pages_read_a_bounded_number_of_queries(
    n, rep, client_for, make_deal, django_assert_max_num_queries
):
    lead, deal, company, contact = _busy_history(rep, make_deal, n)
    client = client_for(rep)
    # Every page also reads its open tasks, the task form's owner choices and
    # the navigation's count of tasks due: 3 more than its own.
    # session + user, the lead, its deal, touches, activities, decisions,
    # status changes, stage changes (none: no deal) + 3 -> 11
    with django_assert_max_num_queries(11):
        assert client.get(f"/leads/{lead.pk}/").status_code == 200
    # session + user, stage rules, the deal, activities, stage changes + 3 -> 9
    with django_assert_max_num_queries(9):
        assert client.get(f"/deals/{deal.pk}/").status_code == 200
    # session + user, the company, activities, stage changes, contacts, deals
    # + 3 -> 10
    with django_assert_max_num_queries(10):
        assert client.get(f"/companies/{company.pk}/").status_code == 200
    # session + user, the contact, activities, stage changes, deals + 3 -> 9
    with django_assert_max_num_queries(9):
        assert client.get(f"/contacts/{contact.pk}/").status_code == 200


def test_the_timeline_keeps_the_newest_fifty(rep, client_for):
    lead = LeadFactory(owner=rep)
    now = timezone.now()
    for minutes in range(60):
        activity_log(
            by=rep,
            lead=lead,
            kind="note",
            notes=f"note {minutes}",
            occurred_at=now - datetime.timedelta(minutes=minutes),
        )
    events = client_for(rep).get(f"/leads/{lead.pk}/").context["events"]
    assert len(events) == 50
    assert events[0].detail == "note 0"
    assert events[-1].detail == "note 49"
