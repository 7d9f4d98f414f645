"""On PostgreSQL the lists' ``?search=`` and the admin's search read the GIN
trigram indexes of the search documents (workspace migration 0004).

Without them a search reads the whole table (a million leads for an
integration's ``?search=``). These tiny tables would be scanned anyway, so
sequential and plain index scans are priced out for the EXPLAIN, as in
tests/workspace/test_search_postgresql.py: a table is then read through a
bitmap of its trigram index exactly when the query's tests match the index's.
"""

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="GIN trigram indexes: PostgreSQL"
    ),
]

LEADS = "search_leads_lead_trgm"
CONTACTS = "search_crm_contact_trgm"
COMPANIES = "search_crm_company_trgm"
DEAL_TITLES = "search_pipeline_deal_trgm"


def explained(get, url: str, params: dict, table: str) -> str:
    """Return the plan of the query ``get`` runs for the rows of ``table``."""
    with CaptureQueriesContext(connection) as queries:
        response = get(url, params)
    assert response.status_code == 200
    page = next(
        query["sql"]
        for query in queries.captured_queries
        if f'FROM "{table}"' in query["sql"]
        and "LIKE" in query["sql"]
        and "COUNT(" not in query["sql"]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # A full index scan stands for a sequential one on an empty table.
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {page}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture(autouse=True)
def records(rep):
    # Rows to list: an empty page is no query at all.
    navy = CompanyFactory(owner=rep, name="Navy Labs", domain="navy.example")
    ContactFactory(owner=rep, first_name="Grace", last_name="Hopper", company=navy)
    LeadFactory(
        owner=rep, first_name="Grace", last_name="Hopper", company_name="Navy Labs"
    )
    DealFactory(owner=rep, title="Navy renewal", company=navy)


@pytest.fixture
def api_get(api_as, integration):
    return api_as(integration).get


@pytest.fixture
def admin_get(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client.get


@pytest.mark.parametrize("query", ["hopper", "grace hopper", '"Navy Labs"'])
def test_the_lead_lists_search_reads_the_lead_index(api_get, admin_get, query):
    for plan in (
        explained(api_get, "/api/v1/leads/", {"search": query}, "leads_lead"),
        explained(admin_get, "/admin/leads/lead/", {"q": query}, "leads_lead"),
    ):
        assert LEADS in plan
        assert "Seq Scan" not in plan


def test_the_contact_lists_search_reads_the_contact_index(api_get, admin_get):
    for plan in (
        explained(api_get, "/api/v1/contacts/", {"search": "hopper"}, "crm_contact"),
        explained(admin_get, "/admin/crm/contact/", {"q": "hopper"}, "crm_contact"),
    ):
        assert CONTACTS in plan
        assert "Seq Scan" not in plan


def test_the_company_lists_search_reads_the_company_index(api_get, admin_get):
    for plan in (
        explained(api_get, "/api/v1/companies/", {"search": "navy"}, "crm_company"),
        explained(admin_get, "/admin/crm/company/", {"q": "navy"}, "crm_company"),
    ):
        assert COMPANIES in plan
        assert "Seq Scan" not in plan


def test_the_deal_lists_search_reads_the_title_and_company_indexes(api_get, admin_get):
    for plan in (
        explained(api_get, "/api/v1/deals/", {"search": "navy"}, "pipeline_deal"),
        explained(admin_get, "/admin/pipeline/deal/", {"q": "navy"}, "pipeline_deal"),
    ):
        assert DEAL_TITLES in plan
        assert COMPANIES in plan
        assert "Seq Scan" not in plan
