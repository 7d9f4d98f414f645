import pytest
from django.db import connection

from tests.factories import CompanyFactory, ContactFactory, LeadFactory
from workspace.search import MAX_QUERY_LENGTH, MAX_TERMS, search, terms_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(rep, foreign_rep, make_deal):
    company = CompanyFactory(name="Dupont SA", domain="dupont.fr", owner=rep)
    contact = ContactFactory(
        first_name="Ada", last_name="Lovelace", email="ada@dupont.fr", company=company
    )
    lead = LeadFactory(
        owner=rep, first_name="Grace", last_name="Hopper", company_name="Navy Labs"
    )
    hidden = LeadFactory(
        owner=foreign_rep, first_name="Grace", last_name="Kelly", company_name="Navy"
    )
    deal = make_deal(rep, title="Dupont renewal", company=company)
    return {
        "company": company,
        "contact": contact,
        "lead": lead,
        "hidden": hidden,
        "deal": deal,
    }


def test_search_finds_each_kind_by_name_email_company_and_domain(rep, records):
    assert search(user=rep, query="hopper").leads == [records["lead"]]
    assert search(user=rep, query="navy labs").leads == [records["lead"]]
    by_domain = search(user=rep, query="dupont.fr")
    assert by_domain.companies == [records["company"]]
    assert by_domain.contacts == [records["contact"]]
    assert search(user=rep, query="Dupont").deals == [records["deal"]]
    assert search(user=rep, query="ada@dupont").contacts == [records["contact"]]


def test_search_stays_in_the_users_scope(rep, foreign_rep, records):
    assert search(user=rep, query="grace").leads == [records["lead"]]
    assert search(user=foreign_rep, query="grace").leads == [records["hidden"]]
    assert search(user=foreign_rep, query="dupont").deals == []


def test_every_word_must_match(rep, records):
    assert search(user=rep, query="grace hopper").leads == [records["lead"]]
    if connection.vendor != "postgresql":
        # Without trigrams, a word found nowhere rules the record out.
        assert search(user=rep, query="grace zzzz").leads == []


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="trigram similarity needs pg_trgm"
)
def test_postgresql_search_forgives_a_typo(rep, records):
    assert search(user=rep, query="Hoppr").leads == [records["lead"]]
    assert search(user=rep, query="Dupond").companies == [records["company"]]
    assert search(user=rep, query="Lovelase").contacts == [records["contact"]]


def test_the_query_is_capped_in_length_and_words():
    query, terms = terms_of("  a  " * 50 + "b" * 500)
    assert len(query) <= MAX_QUERY_LENGTH
    assert len(terms) == MAX_TERMS


def test_an_empty_query_finds_nothing_and_asks_for_words(rep, client_for):
    response = client_for(rep).get("/search/?q=%20%20")
    assert response.status_code == 200
    assert response.context["results"].count == 0
    assert "Type a name" in response.content.decode()


def test_search_page_links_to_the_record_pages(
    rep, records, client_for, django_assert_max_num_queries
):
    client = client_for(rep)
    # session + user, one query per kind, the navigation's tasks due -> 7; on
    # PostgreSQL a second per kind for close matches when substring matches
    # leave its page short (here every kind) -> 11
    with django_assert_max_num_queries(11 if connection.vendor == "postgresql" else 7):
        response = client.get("/search/?q=dupont")
    html = response.content.decode()
    assert f'href="/companies/{records["company"].pk}/"' in html
    assert f'href="/contacts/{records["contact"].pk}/"' in html
    assert f'href="/deals/{records["deal"].pk}/"' in html
