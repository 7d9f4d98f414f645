"""Tasks (planned activities) and notes from the record pages, and Today's
reminders with the navigation's badge."""

import datetime
import re

import pytest
import time_machine

from leads.models import LeadStatus
from pipeline.activities import activity_log
from pipeline.models import Activity, ActivityKind
from tests.factories import CompanyFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

# A Monday, 09:00 in Paris (the test settings' time zone).
MONDAY = datetime.datetime(2026, 3, 2, 8, 0, tzinfo=datetime.UTC)


def _plan(client, url, **fields):
    data = {
        "kind": "call",
        "due_on": "2026-03-03",
        "due_time": "10:30",
        "notes": "Call back about the quote",
        **fields,
    }
    return client.post(url, data)


@time_machine.travel(MONDAY, tick=False)
def test_plan_a_task_from_a_lead_page_for_a_day_and_time(rep, client_for):
    lead = LeadFactory(owner=rep)
    response = _plan(client_for(rep), f"/leads/{lead.pk}/plan/", owner=rep.pk)
    assert response.status_code == 302
    task = Activity.objects.get()
    # 10:30 in Paris on 3 March is 09:30 UTC (winter time).
    assert task.due_at == datetime.datetime(2026, 3, 3, 9, 30, tzinfo=datetime.UTC)
    assert (task.done, task.owner, task.lead, task.occurred_at) == (
        False,
        rep,
        lead,
        None,
    )
    page = client_for(rep).get(f"/leads/{lead.pk}/").content.decode()
    assert "Call back about the quote" in page
    # A planned call has not happened: the lead still waits for an answer.
    lead.refresh_from_db()
    assert lead.first_activity_at is None


@time_machine.travel(MONDAY, tick=False)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_task_form_offers_a_day_the_date_input_can_show(rep, client_for, language):
    # A date input takes only ISO dates: "02/03/2026" would show an empty box.
    lead = LeadFactory(owner=rep)
    page = (
        client_for(rep)
        .get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE=language)
        .content.decode()
    )
    due_on = re.search(r'<input[^>]*name="due_on"[^>]*>', page).group()
    assert 'value="2026-03-03"' in due_on  # tomorrow, the default


def test_a_rep_cannot_plan_a_task_for_another_rep(rep, other_rep, client_for):
    lead = LeadFactory(owner=rep)
    response = _plan(client_for(rep), f"/leads/{lead.pk}/plan/", owner=other_rep.pk)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Activity.objects.exists()


def test_a_task_without_a_day_is_refused_with_a_field_error(rep, client_for):
    lead = LeadFactory(owner=rep)
    response = _plan(
        client_for(rep), f"/leads/{lead.pk}/plan/", due_on="", owner=rep.pk
    )
    assert response.status_code == 400
    assert response.context["task_form"].errors["due_on"]


def test_overdue_tasks_stand_out_on_today_and_count_in_the_badge(
    rep, client_for, make_deal
):
    deal = make_deal(rep, title="Acme renewal")
    with time_machine.travel(MONDAY, tick=False):
        _plan(client_for(rep), f"/deals/{deal.pk}/plan/", owner=rep.pk)
    # The next day at 14:00 the 10:30 call is overdue.
    with time_machine.travel(MONDAY + datetime.timedelta(days=1, hours=5), tick=False):
        response = client_for(rep).get("/")
    html = response.content.decode()
    assert [t.deal for t in response.context["today"].tasks] == [deal]
    assert 'class="task overdue"' in html
    assert "Overdue" in html
    assert 'class="badge tasks-badge"' in html
    # On Monday it was due tomorrow: not in Today's list, no badge.
    with time_machine.travel(MONDAY, tick=False):
        response = client_for(rep).get("/")
    assert response.context["today"].tasks == []
    assert "tasks-badge" not in response.content.decode()


def test_completing_a_task_logs_it_on_the_timeline(rep, client_for):
    lead = LeadFactory(owner=rep)
    with time_machine.travel(MONDAY, tick=False):
        task = activity_log(
            by=rep,
            lead=lead,
            kind="call",
            done=False,
            due_at=MONDAY + datetime.timedelta(hours=2),
        )
    with time_machine.travel(MONDAY + datetime.timedelta(hours=3), tick=False):
        response = client_for(rep).post(
            f"/tasks/{task.pk}/complete/",
            {"version": task.version, "outcome": "connected", "next": "/"},
        )
    assert response.status_code == 302
    assert response["Location"] == "/"
    task.refresh_from_db()
    assert task.done
    assert task.occurred_at == MONDAY + datetime.timedelta(hours=3)
    lead.refresh_from_db()
    assert lead.first_activity_at == task.occurred_at
    events = client_for(rep).get(f"/leads/{lead.pk}/").context["events"]
    assert events[0].title == "Call (Outbound): Connected"


def test_completing_a_task_from_a_stale_page_changes_nothing(rep, client_for):
    lead = LeadFactory(owner=rep)
    task = activity_log(
        by=rep, lead=lead, kind="call", done=False, due_at=MONDAY, notes="v1"
    )
    client = client_for(rep)
    client.post(f"/tasks/{task.pk}/complete/", {"version": task.version})
    response = client.post(
        f"/tasks/{task.pk}/complete/", {"version": task.version}, follow=True
    )
    assert "after you opened the page" in response.content.decode()
    assert Activity.objects.filter(done=True).count() == 1


def test_a_task_out_of_scope_is_404(rep, foreign_rep, client_for):
    lead = LeadFactory(owner=foreign_rep)
    task = activity_log(
        by=foreign_rep, lead=lead, kind="call", done=False, due_at=MONDAY
    )
    response = client_for(rep).post(f"/tasks/{task.pk}/complete/", {"version": 1})
    assert response.status_code == 404
    task.refresh_from_db()
    assert not task.done


@pytest.mark.parametrize("kind", ["leads", "deals", "companies", "contacts"])
def test_a_note_on_any_record_shows_in_its_timeline(kind, rep, client_for, make_deal):
    record = {
        "leads": lambda: LeadFactory(owner=rep),
        "deals": lambda: make_deal(rep),
        "companies": lambda: CompanyFactory(owner=rep),
        "contacts": lambda: ContactFactory(owner=rep),
    }[kind]()
    client = client_for(rep)
    response = client.post(f"/{kind}/{record.pk}/note/", {"notes": "Prefers e-mail"})
    assert response.status_code == 302
    note = Activity.objects.get()
    assert note.kind == ActivityKind.NOTE
    events = client.get(f"/{kind}/{record.pk}/").context["events"]
    assert [(e.kind, e.title, e.detail) for e in events if e.kind == "note"] == [
        ("note", "Note", "Prefers e-mail")
    ]


def test_an_empty_note_is_refused(rep, client_for):
    company = CompanyFactory(owner=rep)
    response = client_for(rep).post(f"/companies/{company.pk}/note/", {"notes": ""})
    assert response.status_code == 400
    assert response.context["note_form"].errors["notes"]
    assert not Activity.objects.exists()


def test_mark_a_prospect_as_a_lead_from_its_page(rep, client_for):
    prospect = LeadFactory(owner=rep, status=LeadStatus.PROSPECT)
    client = client_for(rep)
    response = client.post(
        f"/leads/{prospect.pk}/promote/", {"version": prospect.version}
    )
    assert response.status_code == 302
    prospect.refresh_from_db()
    assert prospect.status == LeadStatus.LEAD
    titles = [e.title for e in client.get(f"/leads/{prospect.pk}/").context["events"]]
    assert "Marked as a lead" in titles
