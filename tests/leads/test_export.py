"""Leads export as CSV with the list's filters and visibility."""

import csv
import io

import pytest

from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_lead_export_honours_filters_and_visibility(api_as, rep, other_rep):
    prospect = LeadFactory(owner=rep, status="prospect", first_name="Zoë")
    LeadFactory(owner=rep, status="lead")
    LeadFactory(owner=other_rep, status="prospect")

    response = api_as(rep).get("/api/v1/leads/export/?status=prospect")

    rows = _rows(response)
    assert [(row["id"], row["first_name"], row["became_lead_at"]) for row in rows] == [
        (str(prospect.pk), "Zoë", "")
    ]


def test_manager_exports_the_team_leads(api_as, manager, rep, foreign_rep):
    LeadFactory(owner=rep)
    LeadFactory(owner=foreign_rep)

    rows = _rows(api_as(manager).get("/api/v1/leads/export/"))

    assert [row["owner"] for row in rows] == [rep.username]
