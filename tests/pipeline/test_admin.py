import datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.test import Client, RequestFactory
from django.utils import timezone

from leads.admin import LeadAdmin
from leads.models import Lead
from pipeline import services
from pipeline.models import Deal, StageChange, StageSetting
from tests.factories import CompanyFactory, ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/pipeline/deal/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_action(client, action, deals, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [d.pk for d in deals], **extra},
        follow=True,
    )


def test_changelist_is_scoped_and_filters_on_staleness(rep, other_rep, make_deal):
    old = make_deal(rep, title="Old deal")
    make_deal(rep, title="Fresh deal")
    make_deal(other_rep, title="Not mine")
    Deal.objects.filter(pk=old.pk).update(
        stage_entered_at=timezone.now() - datetime.timedelta(days=90)
    )
    client = client_for(rep)
    html = client.get(CHANGELIST).content.decode()
    assert "Fresh deal" in html
    assert "Not mine" not in html
    stale = client.get(CHANGELIST, {"stale": "yes"})
    assert [d.pk for d in stale.context["cl"].result_list] == [old.pk]


def test_move_to_next_stage_action_goes_through_the_service(rep, make_deal):
    first, last = make_deal(rep), make_deal(rep, stage="closing")
    response = run_action(client_for(rep), "move_to_next_stage", [first, last])
    first.refresh_from_db()
    assert first.stage == "qualification"
    assert StageChange.objects.filter(deal=first).count() == 2
    messages = [str(m) for m in response.context["messages"]]
    assert any("last stage" in m for m in messages)
    assert any("1 deal moved." in m for m in messages)


def test_win_action_refuses_deals_not_in_closing(rep, make_deal):
    closing, early = make_deal(rep, stage="closing"), make_deal(rep)
    response = run_action(client_for(rep), "win", [closing, early])
    closing.refresh_from_db(), early.refresh_from_db()
    assert (closing.status, early.status) == ("won", "open")
    assert any("Closing" in str(m) for m in response.context["messages"])


def test_lose_action_needs_a_reason(rep, make_deal):
    deal = make_deal(rep)
    client = client_for(rep)
    run_action(client, "lose", [deal])
    deal.refresh_from_db()
    assert deal.status == "open"
    run_action(client, "lose", [deal], lost_reason="competitor")
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "competitor")


def test_change_page_shows_the_history_read_only(rep, make_deal):
    deal = make_deal(rep)
    services.deal_move(deal=deal, to_stage="closing", by=rep)
    response = client_for(rep).get(f"{CHANGELIST}{deal.pk}/change/")
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0]
    assert formset.formset.queryset.count() == 2
    assert not formset.has_add_permission
    assert not formset.has_delete_permission


def test_adding_a_deal_in_the_admin_records_its_history(rep):
    response = client_for(rep).post(
        f"{CHANGELIST}add/",
        {
            "title": "Admin deal",
            "owner": rep.pk,
            "channel": "outbound",
            "amount": "100.00",
            "currency": "EUR",
            "stage": "presentation",
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    deal = Deal.objects.get(title="Admin deal")
    assert list(
        StageChange.objects.filter(deal=deal).values_list("to_stage", flat=True)
    ) == ["presentation"]


def test_stage_settings_are_editable_by_superusers_only(admin_user, rep):
    setting = StageSetting.objects.get(stage="closing")
    url = f"/admin/pipeline/stagesetting/{setting.pk}/change/"
    assert client_for(rep).post(url, {"probability": 90}).status_code == 403
    response = client_for(admin_user).post(
        url, {"probability": 90, "stale_after_days": 7}
    )
    assert response.status_code == 302
    setting.refresh_from_db()
    assert (setting.probability, setting.stale_after_days) == (90, 7)


@time_machine.travel(
    datetime.datetime(2026, 3, 10, 15, 0, tzinfo=datetime.UTC), tick=False
)
def test_activity_added_in_the_admin_is_marked_as_cold_call(rep):
    # The call is logged at 09:00 today: freezing the clock in the afternoon keeps
    # it in the past whatever time the suite runs.
    prospect = LeadFactory(status="prospect", owner=rep)
    response = client_for(rep).post(
        "/admin/pipeline/activity/add/",
        {
            "kind": "call",
            "direction": "outbound",
            "outcome": "no_answer",
            "occurred_at_0": timezone.localdate().isoformat(),
            "occurred_at_1": "09:00:00",
            "lead": prospect.pk,
            "owner": rep.pk,
        },
    )
    assert response.status_code == 302
    prospect.refresh_from_db()
    assert prospect.activities.get().is_cold_call is True
    assert prospect.activity_count == 1


def test_lead_admin_gets_the_convert_action_and_keeps_the_leads_actions(rep):
    model_admin = admin.site.get_model_admin(Lead)
    assert isinstance(model_admin, LeadAdmin)
    request = RequestFactory().get("/admin/leads/lead/")
    request.user = rep
    assert {"qualify", "disqualify", "reassign", "convert_to_deal"} <= set(
        model_admin.get_actions(request)
    )
    lead = LeadFactory(status="qualified", owner=rep, email="x@initech.example")
    client = client_for(rep)
    selected = {"action": "convert_to_deal", "_selected_action": [lead.pk]}
    # The action first asks what the deal needs.
    asking = client.post("/admin/leads/lead/", selected)
    assert "Expected close date" in asking.content.decode()
    lead.refresh_from_db()
    assert lead.status == "qualified"
    response = client.post(
        "/admin/leads/lead/",
        {
            **selected,
            "apply": "1",
            "amount": "12500",
            "currency": "",
            "expected_close_on": "2026-12-15",
        },
        follow=True,
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.status == "converted"
    deal = Deal.objects.get(lead=lead)
    assert (deal.owner, deal.stage) == (rep, "presentation")
    assert (deal.amount, deal.expected_close_on) == (
        Decimal("12500.00"),
        datetime.date(2026, 12, 15),
    )
    # The message links to the new deal.
    assert f'href="/admin/pipeline/deal/{deal.pk}/change/"' in response.content.decode()


# --- a refusal is a form error: nothing saved, nothing logged ----------------


def _form_errors(response) -> dict:
    assert response.status_code == 200, "the page should be shown again"
    return response.context["adminform"].form.errors


@time_machine.travel(
    datetime.datetime(2026, 3, 10, 7, 0, tzinfo=datetime.UTC), tick=False
)
def test_activity_refused_by_the_service_is_a_form_error_and_not_logged(rep):
    # 08:00 in Paris: an activity at 09:00 today is in the future.
    prospect = LeadFactory(status="prospect", owner=rep)
    response = client_for(rep).post(
        "/admin/pipeline/activity/add/",
        {
            "kind": "call",
            "direction": "outbound",
            "outcome": "no_answer",
            "occurred_at_0": "2026-03-10",
            "occurred_at_1": "09:00:00",
            "lead": prospect.pk,
            "owner": rep.pk,
        },
        follow=True,
    )
    assert "future" in str(_form_errors(response)["occurred_at"])
    assert not [m for m in response.context["messages"] if "success" in str(m)]
    assert not prospect.activities.exists()
    assert not LogEntry.objects.exists()


def test_deal_change_refused_by_the_service_is_a_form_error_and_not_logged(
    rep, make_deal
):
    deal = make_deal(rep, stage="closing", amount="5000.00", currency="EUR")
    services.deal_win(deal=deal, by=rep)
    response = client_for(rep).post(
        f"{CHANGELIST}{deal.pk}/change/",
        {
            "title": deal.title,
            "owner": rep.pk,
            "channel": "outbound",
            "amount": "1.00",
            "currency": "EUR",
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert "reopening" in str(_form_errors(response)["amount"])
    deal.refresh_from_db()
    assert (deal.amount, deal.version) == (Decimal("5000.00"), 2)
    assert not LogEntry.objects.exists()


def test_deal_added_with_another_companys_contact_is_a_form_error(rep):
    initech, globex = CompanyFactory(owner=rep), CompanyFactory(owner=rep)
    response = client_for(rep).post(
        f"{CHANGELIST}add/",
        {
            "title": "Mismatch",
            "owner": rep.pk,
            "company": initech.pk,
            "contact": ContactFactory(owner=rep, company=globex).pk,
            "channel": "outbound",
            "amount": "100.00",
            "currency": "EUR",
            "stage": "presentation",
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
        },
    )
    assert "another company" in str(_form_errors(response)["contact"])
    assert not Deal.objects.exists()
    assert not LogEntry.objects.exists()


def test_deal_changed_in_the_admin_is_logged_and_writes_only_what_changed(
    rep, make_deal
):
    deal = make_deal(rep, title="Before", amount="10.00", currency="EUR")
    response = client_for(rep).post(
        f"{CHANGELIST}{deal.pk}/change/",
        {
            "title": "After",
            "owner": rep.pk,
            "channel": "outbound",
            "amount": "10.00",
            "currency": "EUR",
            # The admin's hidden initial of a field with a callable default.
            "initial-currency": "EUR",
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.version) == ("After", 2)
    assert LogEntry.objects.get().get_change_message() == "Changed Title."


def test_action_refusals_are_errors_and_no_success_is_reported(rep, make_deal):
    early = make_deal(rep)
    response = run_action(client_for(rep), "win", [early])
    levels = {m.level_tag for m in response.context["messages"]}
    assert levels == {"error"}
    early.refresh_from_db()
    assert early.status == "open"


# --- planned activities: a task planned in the admin, completed by an action --


@time_machine.travel(
    datetime.datetime(2026, 3, 10, 7, 0, tzinfo=datetime.UTC), tick=False
)
def test_a_planned_call_is_added_in_the_admin_and_counts_only_once_done(rep):
    # given a call planned for tomorrow 10:00 (not done: allowed in the future)
    lead = LeadFactory(status="lead", owner=rep)
    response = client_for(rep).post(
        "/admin/pipeline/activity/add/",
        {
            "kind": "call",
            "direction": "outbound",
            "planned": "on",
            "due_at_0": "2026-03-11",
            "due_at_1": "10:00:00",
            "lead": lead.pk,
            "owner": rep.pk,
        },
    )
    assert response.status_code == 302
    planned = lead.activities.get()
    assert (planned.done, planned.due_at.isoformat()) == (
        False,
        "2026-03-11T09:00:00+00:00",
    )
    lead.refresh_from_db()
    assert lead.activity_count == 0

    # when the rep marks it done with the list action
    client_for(rep).post(
        "/admin/pipeline/activity/",
        {"action": "complete", "_selected_action": [planned.pk]},
    )

    # then it is logged now and counts
    planned.refresh_from_db()
    lead.refresh_from_db()
    assert planned.done is True
    assert planned.occurred_at == timezone.now()
    assert lead.activity_count == 1
