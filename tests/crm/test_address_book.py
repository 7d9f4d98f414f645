"""Companies and contacts are a shared address book: everyone reads, owners change."""

import pytest

from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_every_sales_user_reads_every_company(api_as, rep, foreign_rep):
    CompanyFactory(owner=rep)
    CompanyFactory(owner=foreign_rep)

    response = api_as(rep).get("/api/v1/companies/")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_rep_cannot_change_another_reps_company(api_as, rep, other_rep):
    company = CompanyFactory(owner=other_rep, name="Theirs")

    response = api_as(rep).patch(f"/api/v1/companies/{company.pk}/", {"name": "Mine"})

    assert response.status_code == 403
    company.refresh_from_db()
    assert company.name == "Theirs"


def test_rep_cannot_delete_another_reps_contact(api_as, rep, other_rep):
    contact = ContactFactory(owner=other_rep, company=None)

    assert api_as(rep).delete(f"/api/v1/contacts/{contact.pk}/").status_code == 403


def test_manager_changes_a_company_of_their_team(api_as, manager, rep):
    company = CompanyFactory(owner=rep)

    response = api_as(manager).patch(
        f"/api/v1/companies/{company.pk}/", {"industry": "Retail"}
    )

    assert response.status_code == 200
    assert response.json()["industry"] == "Retail"


def test_manager_cannot_change_another_teams_company(api_as, manager, foreign_rep):
    company = CompanyFactory(owner=foreign_rep)

    response = api_as(manager).patch(f"/api/v1/companies/{company.pk}/", {"name": "X"})

    assert response.status_code == 403


def test_new_company_is_owned_by_its_creator(api_as, rep):
    response = api_as(rep).post(
        "/api/v1/companies/", {"name": "Acme", "domain": "WWW.Acme.example"}
    )

    assert response.status_code == 201
    assert response.json()["owner"] == rep.pk
    assert response.json()["domain"] == "acme.example"


def test_rep_cannot_assign_a_company_to_someone_else(api_as, rep, other_rep):
    response = api_as(rep).post(
        "/api/v1/companies/", {"name": "Acme", "owner": other_rep.pk}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "owner"


def test_duplicate_domain_in_another_case_is_a_400(api_as, rep):
    CompanyFactory(domain="acme.example")

    response = api_as(rep).post(
        "/api/v1/companies/", {"name": "Acme 2", "domain": "ACME.example"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "domain"


def test_duplicate_contact_email_in_another_case_is_a_400(api_as, rep):
    ContactFactory(email="jane@acme.example")

    response = api_as(rep).post(
        "/api/v1/contacts/",
        {"first_name": "Jane", "last_name": "Doe", "email": "Jane@ACME.example"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "email"


def test_company_list_runs_a_constant_number_of_queries(
    api_as, rep, django_assert_max_num_queries
):
    CompanyFactory.create_batch(30, owner=rep)
    client = api_as(rep)

    # count, page of rows (owner is an id: no join needed)
    with django_assert_max_num_queries(2):
        assert client.get("/api/v1/companies/?page_size=5").status_code == 200
    with django_assert_max_num_queries(2):
        assert client.get("/api/v1/companies/?page_size=30").status_code == 200
