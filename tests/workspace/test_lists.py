"""The lead and deal lists: filters, sorting, pages and saved views per user."""

import pytest

from tests.factories import CompanyFactory, LeadFactory
from workspace.models import ListKind, SavedView

pytestmark = pytest.mark.django_db


def _names(response):
    return [str(row) for row in response.context["page"]]


def test_lead_list_filters_by_status_and_text_in_scope(rep, foreign_rep, client_for):
    LeadFactory(owner=rep, first_name="Ada", last_name="Dupont", company_name="Acme")
    LeadFactory(owner=rep, first_name="Alan", last_name="Turing", status="prospect")
    LeadFactory(owner=foreign_rep, first_name="Ada", last_name="Elsewhere")
    client = client_for(rep)
    assert sorted(_names(client.get("/leads/"))) == ["Ada Dupont", "Alan Turing"]
    assert _names(client.get("/leads/?status=prospect")) == ["Alan Turing"]
    assert _names(client.get("/leads/?q=ada")) == ["Ada Dupont"]


def test_lead_list_sorts_by_name(rep, client_for):
    for last in ("Zola", "Adam", "Moreau"):
        LeadFactory(owner=rep, first_name="X", last_name=last)
    response = client_for(rep).get("/leads/?sort=last_name")
    assert _names(response) == ["X Adam", "X Moreau", "X Zola"]


def test_deal_list_filters_by_stage_and_sorts_by_amount(rep, client_for, make_deal):
    make_deal(rep, title="Small", amount="100.00")
    make_deal(rep, title="Big", amount="9000.00")
    make_deal(rep, title="Later", amount="500.00", stage="closing")
    client = client_for(rep)
    response = client.get("/deals/?stage=prospection&sort=-amount")
    assert [d.title for d in response.context["page"]] == ["Big", "Small"]


def test_an_invalid_filter_is_shown_not_a_500(rep, client_for):
    response = client_for(rep).get("/deals/?stage=nowhere&sort=drop")
    assert response.status_code == 200
    assert response.context["filters"].errors["stage"]


def test_lists_are_paginated(rep, client_for):
    for n in range(30):
        LeadFactory(owner=rep, last_name=f"L{n:02}")
    client = client_for(rep)
    first = client.get("/leads/?sort=last_name")
    second = client.get("/leads/?sort=last_name&page=2")
    assert len(first.context["page"]) == 25
    assert _names(second)[0].endswith("L25")
    assert 'rel="next" href="?sort=last_name&amp;page=2"' in first.content.decode()


@pytest.mark.parametrize("path", ["/leads/", "/deals/"])
@pytest.mark.parametrize("n", [1, 20])
def test_lists_read_a_bounded_number_of_queries(
    path, n, rep, client_for, make_deal, django_assert_max_num_queries
):
    company = CompanyFactory(owner=rep)
    for i in range(n):
        LeadFactory(owner=rep)
        make_deal(rep, title=f"Deal {i}", company=company)
    SavedView.objects.create(owner=rep, kind=ListKind.LEADS, name="Mine", query="")
    client = client_for(rep)
    # session + user, the owner choices, the page's count, its rows (owner
    # and company joined), the saved views, the navigation's tasks due -> 7
    with django_assert_max_num_queries(7):
        assert client.get(path).status_code == 200


def test_save_rename_and_delete_a_view(rep, client_for):
    client = client_for(rep)
    response = client.post(
        "/leads/?status=qualified", {"name": "Qualified", "status": "qualified"}
    )
    assert response.status_code == 302
    view = SavedView.objects.get()
    assert (view.owner, view.kind, view.query) == (rep, "leads", "status=qualified")
    assert response["Location"] == "/leads/?status=qualified"
    page = client.get("/leads/").content.decode()
    assert 'href="/leads/?status=qualified">Qualified</a>' in page

    client.post(f"/views/{view.pk}/rename/", {"name": "Hot ones"})
    view.refresh_from_db()
    assert view.name == "Hot ones"
    client.post(f"/views/{view.pk}/delete/")
    assert not SavedView.objects.exists()


def test_a_view_name_is_unique_per_user_and_list(rep, other_rep, client_for):
    SavedView.objects.create(owner=rep, kind="leads", name="Mine", query="")
    response = client_for(rep).post("/leads/", {"name": "Mine"})
    assert response.status_code == 400
    assert "already have a view with this name" in response.content.decode()
    # Another user, or the other list, may use the name.
    assert client_for(other_rep).post("/leads/", {"name": "Mine"}).status_code == 302
    assert client_for(rep).post("/deals/", {"name": "Mine"}).status_code == 302


def test_saved_views_are_personal_even_to_a_manager(rep, manager, client_for):
    view = SavedView.objects.create(owner=rep, kind="leads", name="Mine", query="")
    client = client_for(manager)
    assert client.get("/leads/").context["views"] == []
    assert client.post(f"/views/{view.pk}/delete/").status_code == 404
    assert client.post(f"/views/{view.pk}/rename/", {"name": "X"}).status_code == 404
    view.refresh_from_db()
    assert view.name == "Mine"
