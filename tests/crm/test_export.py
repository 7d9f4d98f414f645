"""Lists export as streamed CSV, with the same filters and visibility."""

import csv
import io
import tracemalloc
from decimal import Decimal

import pytest

from crm.models import Company, Subscription
from tests.factories import CompanyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def _read(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheets detect UTF-8 by its BOM
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_subscription_export_honours_visibility_and_filters(api_as, rep, other_rep):
    mine = CompanyFactory(owner=rep, name="Zoë & Co, Ltd")
    SubscriptionFactory(company=mine, mrr=Decimal("1234.50"), plan="Team")
    SubscriptionFactory(
        company=mine, plan="Old", ended_on="2026-01-31", started_on="2025-01-01"
    )
    SubscriptionFactory(company=CompanyFactory(owner=other_rep))

    response = api_as(rep).get("/api/v1/subscriptions/export/?active=true")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _read(response)
    assert len(rows) == 1
    assert rows[0]["company"] == "Zoë & Co, Ltd"
    assert rows[0]["mrr"] == "1234.50"
    assert rows[0]["ended_on"] == ""
    assert len(rows[0]["started_on"]) == 10  # ISO 8601 date


def test_company_export_has_a_header_row_even_when_empty(api_as, rep):
    rows = _read(api_as(rep).get("/api/v1/companies/export/"))

    assert rows == []


def test_admin_export_action_exports_the_selection(client, rep):
    companies = CompanyFactory.create_batch(3, owner=rep)
    client.force_login(rep)

    response = client.post(
        "/admin/crm/company/",
        {"action": "export_csv", "_selected_action": [c.pk for c in companies[:2]]},
    )

    assert [row["id"] for row in _read(response)] == [str(c.pk) for c in companies[:2]]


def _peak_export_memory(client) -> int:
    tracemalloc.start()
    response = client.get("/api/v1/subscriptions/export/")
    for _ in response.streaming_content:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_export_memory_stays_flat_as_rows_grow(api_as, integration, rep, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 20_000  # an operator may raise the cap
    client = api_as(integration)
    company = CompanyFactory(owner=rep)

    def add(count):
        Subscription.objects.bulk_create(
            Subscription(company=company, plan="P", mrr=10, started_on="2025-01-01")
            for _ in range(count)
        )

    add(2_000)
    small = _peak_export_memory(client)
    add(18_000)
    large = _peak_export_memory(client)

    # Ten times the rows, about the same peak: rows are streamed in chunks.
    assert large < small * 2
    assert Company.objects.count() == 1
