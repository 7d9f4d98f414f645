"""On PostgreSQL the global search reads its GIN trigram indexes.

A query the indexes cannot serve scans every lead (seconds at a million: see
docs/benchmarks.md, "Global search"). These tiny tables would be scanned
anyway, so sequential and plain index scans are priced out for the EXPLAIN:
a table is then read through a bitmap of the trigram index exactly when the
query's expressions match the index's.
"""

import pytest
from django.db import connection, transaction

from crm.models import Company, Contact
from leads.models import Lead
from pipeline.models import Deal
from workspace.search import ranked, terms_of

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


def plan(model, query: str, user) -> str:
    query, terms = terms_of(query)
    queryset = model.objects.visible_to(user)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # A full index scan stands for a sequential one on an empty table.
        cursor.execute("SET LOCAL enable_indexscan = off")
        # fuzzy: the query with both tests, substring (ILIKE) and close (%>).
        return ranked(queryset, query, terms, fuzzy=True)[:10].explain()


@pytest.mark.parametrize("query", ["hopper", "Hoppr", "grace hopper"])
def test_lead_search_reads_the_lead_index_for_words_and_typos(integration, query):
    explained = plan(Lead, query, integration)

    assert LEADS in explained
    assert "Seq Scan" not in explained


def test_company_search_reads_the_company_index(integration):
    explained = plan(Company, "Dupond", integration)

    assert COMPANIES in explained
    assert "Seq Scan" not in explained


def test_contact_search_reads_the_contact_and_company_indexes(integration):
    explained = plan(Contact, "Lovelase", integration)

    assert CONTACTS in explained
    assert COMPANIES in explained
    assert "Seq Scan" not in explained


def test_deal_search_reads_title_company_and_contact_indexes(integration):
    explained = plan(Deal, "renewal dupont", integration)

    assert DEAL_TITLES in explained
    assert COMPANIES in explained
    assert CONTACTS in explained
    assert "Seq Scan" not in explained
