import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from leads import services
from leads.models import Lead, Qualification
from tests.factories import ContentOfferFactory, LeadFactory

pytestmark = pytest.mark.django_db

LEADS = "/admin/leads/lead/"
PROSPECTS = "/admin/leads/prospect/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_rep_sees_only_own_leads_in_the_admin(rep, other_rep):
    mine = LeadFactory(owner=rep, last_name="Mine")
    theirs = LeadFactory(owner=other_rep, last_name="Theirs")
    client = client_for(rep)
    page = client.get(LEADS).content.decode()
    assert "Mine" in page
    assert "Theirs" not in page
    assert client.get(f"{LEADS}{theirs.pk}/change/").status_code == 302  # not found
    assert client.get(f"{LEADS}{mine.pk}/change/").status_code == 200


def test_manager_sees_the_team_in_the_admin(manager, rep, foreign_rep):
    LeadFactory(owner=rep, last_name="Teammate")
    LeadFactory(owner=foreign_rep, last_name="Foreigner")
    page = client_for(manager).get(LEADS).content.decode()
    assert "Teammate" in page
    assert "Foreigner" not in page


def test_prospect_section_lists_only_prospects(rep):
    LeadFactory(owner=rep, status="prospect", last_name="Prospecty")
    LeadFactory(owner=rep, last_name="Leady")
    page = client_for(rep).get(PROSPECTS).content.decode()
    assert "Prospecty" in page
    assert "Leady" not in page


def test_adding_a_prospect_in_its_section_uses_the_service(rep):
    response = client_for(rep).post(
        f"{PROSPECTS}add/",
        {
            "first_name": "Ana",
            "email": "ana@x.example",
            "channel": "outbound",
            "source": "cold_call",
            "owner": rep.pk,
            "qualifications-TOTAL_FORMS": 0,
            "qualifications-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    lead = Lead.objects.get()
    assert (lead.status, lead.became_lead_at) == ("prospect", None)


def test_lead_detail_shows_the_qualification_history(rep):
    lead = LeadFactory(owner=rep)
    client = client_for(rep)
    client.post(
        LEADS,
        {
            "action": "qualify",
            "_selected_action": [lead.pk],
            "apply": "1",
            "budget": "on",
            "notes": "History note",
        },
    )
    page = client.get(f"{LEADS}{lead.pk}/change/").content.decode()
    assert "History note" in page


def test_qualify_action_shows_a_form_then_qualifies(rep):
    lead = LeadFactory(owner=rep)
    client = client_for(rep)
    form = client.post(LEADS, {"action": "qualify", "_selected_action": [lead.pk]})
    assert form.status_code == 200
    assert b'name="budget"' in form.content
    response = client.post(
        LEADS,
        {
            "action": "qualify",
            "_selected_action": [lead.pk],
            "apply": "1",
            "budget": "on",
            "need": "on",
        },
        follow=True,
    )
    assert "1 lead updated." in response.content.decode()
    lead.refresh_from_db()
    assert (lead.status, lead.score) == ("qualified", 40)


def test_qualify_action_reports_a_prospect_as_an_error(rep):
    prospect = LeadFactory(owner=rep, status="prospect")
    response = client_for(rep).post(
        LEADS,
        {"action": "qualify", "_selected_action": [prospect.pk], "apply": "1"},
        follow=True,
    )
    assert "must become a lead first" in response.content.decode()
    assert not Qualification.objects.exists()


def test_disqualify_action_needs_a_reason(rep):
    lead = LeadFactory(owner=rep)
    client = client_for(rep)
    again = client.post(
        LEADS, {"action": "disqualify", "_selected_action": [lead.pk], "apply": "1"}
    )
    assert again.status_code == 200  # the form again, with its error
    assert b"This field is required" in again.content
    client.post(
        LEADS,
        {
            "action": "disqualify",
            "_selected_action": [lead.pk],
            "apply": "1",
            "reason": "no_need",
        },
    )
    lead.refresh_from_db()
    assert lead.status == "disqualified"
    assert lead.qualifications.get().reason == "no_need"


def test_reassign_action_offers_only_owners_in_scope(
    manager, rep, other_rep, foreign_rep
):
    lead = LeadFactory(owner=rep)
    client = client_for(manager)
    form = client.post(LEADS, {"action": "reassign", "_selected_action": [lead.pk]})
    choices = form.context["form"].fields["owner"].queryset
    assert set(choices) == {manager, rep, other_rep}
    refused = client.post(
        LEADS,
        {
            "action": "reassign",
            "_selected_action": [lead.pk],
            "apply": "1",
            "owner": foreign_rep.pk,
        },
    )
    assert refused.status_code == 200  # invalid choice: the form again
    client.post(
        LEADS,
        {
            "action": "reassign",
            "_selected_action": [lead.pk],
            "apply": "1",
            "owner": other_rep.pk,
        },
    )
    lead.refresh_from_db()
    assert lead.owner == other_rep


def test_actions_cannot_reach_leads_outside_scope(rep, other_rep):
    theirs = LeadFactory(owner=other_rep)
    client_for(rep).post(
        LEADS,
        {
            "action": "qualify",
            "_selected_action": [theirs.pk],
            "apply": "1",
            "budget": "on",
        },
    )
    theirs.refresh_from_db()
    assert theirs.status == "lead"


def _import_page(client, data, capture) -> str:
    """Upload through the import page; return the import's page once it ran."""
    with capture(execute=True):  # the job is queued when the upload commits
        response = client.post(f"{LEADS}import/", data)
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


def test_changelist_has_an_import_button_and_upload(
    rep, django_capture_on_commit_callbacks
):
    client = client_for(rep)
    assert b"/admin/leads/lead/import/" in client.get(LEADS).content
    upload = SimpleUploadedFile(
        "list.csv", b"email,first_name\na@x.example,Ana\nbad,Bo\n", "text/csv"
    )
    page = _import_page(
        client,
        {"file": upload, "mode": "keep-valid"},
        django_capture_on_commit_callbacks,
    )
    assert "2 rows read, 1 created" in page
    assert "is not an e-mail" in page
    assert Lead.objects.get().owner == rep


def test_upload_with_unknown_column_shows_the_error(
    rep, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("list.csv", b"colour\nred\n", "text/csv")
    page = _import_page(
        client_for(rep),
        {"file": upload, "mode": "all-or-nothing"},
        django_capture_on_commit_callbacks,
    )
    assert "Unknown column(s): colour" in page


def test_rep_cannot_edit_offers_but_manager_can(rep, manager):
    offer = ContentOfferFactory()
    assert (
        client_for(rep).get(f"/admin/leads/contentoffer/{offer.pk}/change/").status_code
        == 200
    )
    assert client_for(rep).get("/admin/leads/contentoffer/add/").status_code == 403
    assert client_for(manager).get("/admin/leads/contentoffer/add/").status_code == 200


def test_touches_are_scoped_and_read_only(rep, other_rep):
    from django.utils import timezone

    from leads.models import Touch

    mine = LeadFactory(owner=rep, last_name="Mine")
    theirs = LeadFactory(owner=other_rep, last_name="Theirs")
    for lead in (mine, theirs):
        Touch.objects.create(
            lead=lead,
            channel="inbound",
            source="content_download",
            occurred_at=timezone.now(),
        )
    page = client_for(rep).get("/admin/leads/touch/").content.decode()
    assert "Mine" in page
    assert "Theirs" not in page


def test_action_reports_refusals_as_errors_and_no_success(rep):
    prospect = LeadFactory(owner=rep, status="prospect")
    response = client_for(rep).post(
        LEADS,
        {"action": "qualify", "_selected_action": [prospect.pk], "apply": "1"},
        follow=True,
    )
    assert {m.level_tag for m in response.context["messages"]} == {"error"}


def test_lead_refused_by_the_service_is_a_form_error_and_not_logged(rep, monkeypatch):
    # Whatever the service refuses is shown on the form: here a field message.
    def refuse(**kwargs):
        raise ValidationError({"email": "Refused by the service."})

    monkeypatch.setattr(services, "lead_create", refuse)
    response = client_for(rep).post(
        f"{LEADS}add/",
        {
            "first_name": "Ana",
            "email": "ana@x.example",
            "channel": "outbound",
            "source": "cold_call",
            "owner": rep.pk,
            "qualifications-TOTAL_FORMS": 0,
            "qualifications-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["email"] == ["Refused by the service."]
    assert not Lead.objects.exists()
    assert not LogEntry.objects.exists()


def test_lead_changed_in_the_admin_goes_through_the_service(rep, other_rep, manager):
    lead = LeadFactory(owner=rep, status="qualified", job_title="")
    response = client_for(manager).post(
        f"{LEADS}{lead.pk}/change/",
        {
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "email": lead.email,
            "company_name": lead.company_name,
            "channel": lead.channel,
            "source": lead.source,
            "owner": other_rep.pk,
            "job_title": "CTO",
            "qualifications-TOTAL_FORMS": 0,
            "qualifications-INITIAL_FORMS": 0,
            "consent_records-TOTAL_FORMS": 0,
            "consent_records-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert (lead.owner, lead.job_title, lead.status) == (other_rep, "CTO", "qualified")
    assert lead.version == 2
    assert LogEntry.objects.count() == 1
