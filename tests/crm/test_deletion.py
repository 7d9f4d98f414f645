"""Deletion is decided once, by the policy: history is never deleted by reps or
managers, and what others' history refers to is protected, in the admin and the
API alike."""

import pytest
from django.db.models import ProtectedError

from crm.models import Company, Contact, Subscription
from leads.models import Lead
from pipeline.models import Activity, Deal
from pipeline.services import deal_create
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    LeadFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


def _actions(client, url) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200
    return {
        name for name, _ in response.context["action_form"].fields["action"].choices
    }


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_reps_and_managers_cannot_delete_a_lead_in_the_admin(client, request, who):
    rep = request.getfixturevalue("rep")
    lead = LeadFactory(owner=rep)
    client.force_login(request.getfixturevalue(who))

    page = client.get(f"/admin/leads/lead/{lead.pk}/delete/")
    action = client.post(
        "/admin/leads/lead/",
        {"action": "delete_selected", "_selected_action": [lead.pk], "post": "yes"},
    )

    assert page.status_code == 403
    assert "delete_selected" not in _actions(client, "/admin/leads/lead/")
    assert action.status_code in (200, 302)
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_a_rep_cannot_delete_a_churned_subscription_or_an_activity(client, rep):
    company = CompanyFactory(owner=rep)
    churned = SubscriptionFactory(
        company=company, started_on="2025-10-01", ended_on="2026-01-31"
    )
    activity = ActivityFactory(lead=LeadFactory(owner=rep), owner=rep)
    client.force_login(rep)

    assert (
        client.get(f"/admin/crm/subscription/{churned.pk}/delete/").status_code == 403
    )
    assert (
        client.get(f"/admin/pipeline/activity/{activity.pk}/delete/").status_code == 403
    )
    assert "delete_selected" not in _actions(client, "/admin/crm/subscription/")
    assert "delete_selected" not in _actions(client, "/admin/pipeline/activity/")
    assert Subscription.objects.filter(pk=churned.pk).exists()
    assert Activity.objects.filter(pk=activity.pk).exists()


def test_nobody_gets_a_delete_button_for_a_deal(client, rep, admin_user):
    deal = deal_create(by=rep, title="Acme", channel="outbound")
    client.force_login(admin_user)

    change = client.get(f"/admin/pipeline/deal/{deal.pk}/change/")

    assert client.get(f"/admin/pipeline/deal/{deal.pk}/delete/").status_code == 403
    assert b'class="deletelink"' not in change.content
    assert "delete_selected" not in _actions(client, "/admin/pipeline/deal/")


def test_an_admin_deletes_a_lead_nothing_refers_to(client, rep, admin_user):
    lead = LeadFactory(owner=rep)
    client.force_login(admin_user)

    response = client.post(f"/admin/leads/lead/{lead.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_a_lead_with_history_is_protected_even_from_an_admin(client, rep, admin_user):
    lead = LeadFactory(owner=rep)
    ActivityFactory(lead=lead, owner=rep)
    client.force_login(admin_user)

    response = client.post(f"/admin/leads/lead/{lead.pk}/delete/", {"post": "yes"})

    assert b"Cannot delete lead" in response.content
    assert Lead.objects.filter(pk=lead.pk).exists()
    with pytest.raises(ProtectedError):
        lead.delete()


def test_deleting_a_contact_never_deletes_another_reps_activities(
    api_as, rep, other_rep
):
    contact = ContactFactory(owner=rep, company=None)
    theirs = ActivityFactory(lead=None, contact=contact, owner=other_rep)
    deal = deal_create(
        by=other_rep, title="Theirs", channel="outbound", contact=contact
    )

    response = api_as(rep).delete(f"/api/v1/contacts/{contact.pk}/")

    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert error["detail"] == (
        "This contact cannot be deleted while other records refer to it "
        "(1 deal, 1 activity)."
    )
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert Activity.objects.filter(pk=theirs.pk).exists()
    assert Deal.objects.get(pk=deal.pk).contact_id == contact.pk


def test_a_company_with_subscriptions_cannot_be_deleted(api_as, rep):
    company = CompanyFactory(owner=rep)
    SubscriptionFactory(company=company)

    response = api_as(rep).delete(f"/api/v1/companies/{company.pk}/")

    assert response.status_code == 409
    assert "1 subscription" in response.json()["errors"][0]["detail"]
    assert Company.objects.filter(pk=company.pk).exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("rep", 204),
        ("manager", 204),
        ("admin_user", 204),
        ("other_rep", 403),
        ("foreign_rep", 403),
        ("integration", 403),
    ],
)
def test_owner_manager_and_admin_delete_an_unreferenced_contact(
    api_as, request, rep, who, status
):
    contact = ContactFactory(owner=rep, company=None)

    response = api_as(request.getfixturevalue(who)).delete(
        f"/api/v1/contacts/{contact.pk}/"
    )

    assert response.status_code == status
    assert Contact.objects.filter(pk=contact.pk).exists() is (status != 204)


def test_the_admin_refuses_to_delete_a_referenced_company_with_a_message(client, rep):
    company = CompanyFactory(owner=rep)
    ContactFactory(owner=rep, company=company)
    client.force_login(rep)

    change_page = client.get(f"/admin/crm/company/{company.pk}/change/")
    response = client.post(
        f"/admin/crm/company/{company.pk}/delete/", {"post": "yes"}, follow=True
    )

    # no delete button that could never work; the API's 409 text if forced
    page = f"/admin/crm/company/{company.pk}/"
    assert f"{page}delete/" not in change_page.content.decode()
    assert response.redirect_chain == [(f"{page}change/", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "This company cannot be deleted while other records refer to it (1 contact)."
    ]
    assert Company.objects.filter(pk=company.pk).exists()


def test_the_admin_deletes_an_unreferenced_company_through_the_service(client, rep):
    company = CompanyFactory(owner=rep)
    client.force_login(rep)

    response = client.post(f"/admin/crm/company/{company.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Company.objects.filter(pk=company.pk).exists()


def test_delete_selected_never_deletes_a_company_the_rep_may_not_delete(
    client, rep, other_rep
):
    mine = CompanyFactory(owner=rep)
    theirs = CompanyFactory(owner=other_rep)
    client.force_login(rep)

    client.post(
        "/admin/crm/company/",
        {
            "action": "delete_selected",
            "_selected_action": [mine.pk, theirs.pk],
            "post": "yes",
        },
    )

    assert Company.objects.filter(pk=theirs.pk).exists()
