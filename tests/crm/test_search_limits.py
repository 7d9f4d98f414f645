"""Searches are bounded: a few words of reasonable length, not thousands."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.search import MAX_SEARCH_TERMS, MAX_TERM_LENGTH
from tests.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_a_search_with_thousands_of_terms_is_a_400(api_as, rep):
    terms = " ".join(f"t{n}" for n in range(3000))

    response = api_as(rep).get("/api/v1/leads/", {"search": terms})

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "search"
    assert f"at most {MAX_SEARCH_TERMS} words" in error["detail"]


def test_a_very_long_search_term_is_a_400(api_as, rep):
    response = api_as(rep).get(
        "/api/v1/companies/", {"search": "x" * (MAX_TERM_LENGTH + 1)}
    )

    assert response.status_code == 400


def test_a_few_words_still_search(api_as, rep):
    LeadFactory(owner=rep, first_name="Ana", last_name="Lima", company_name="Acme")

    response = api_as(rep).get("/api/v1/leads/", {"search": "ana lima acme"})

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_the_admin_search_keeps_only_the_first_words(rep):
    CompanyFactory(owner=rep, name="Acme")
    client = Client()
    client.force_login(rep)
    terms = "acme " + " ".join(f"t{n}" for n in range(3000))

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/crm/company/", {"q": terms})

    assert response.status_code == 200
    longest = max(len(query["sql"]) for query in queries.captured_queries)
    assert longest < 10_000  # not 3,000 LIKE predicates
