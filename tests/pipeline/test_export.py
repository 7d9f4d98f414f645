"""Deals and activities export as CSV with the list's filters and visibility."""

import csv
import datetime as dt
import io

import pytest

from tests.factories import ActivityFactory, DealFactory

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_deal_export_honours_filters_and_visibility(api_as, rep, other_rep):
    won = DealFactory(
        owner=rep,
        stage="closing",
        status="won",
        closed_at="2026-11-02T10:00:00Z",
        amount="1500.50",
    )
    DealFactory(owner=rep)
    DealFactory(
        owner=other_rep, stage="closing", status="won", closed_at="2026-11-02T10:00:00Z"
    )

    response = api_as(rep).get("/api/v1/deals/export/?status=won")

    assert response.status_code == 200
    rows = _rows(response)
    assert [row["id"] for row in rows] == [str(won.pk)]
    assert rows[0]["amount"] == "1500.50"
    # ISO 8601 with the offset of the CRM's time zone: the same instant anywhere.
    assert dt.datetime.fromisoformat(rows[0]["closed_at"]) == dt.datetime(
        2026, 11, 2, 10, 0, tzinfo=dt.UTC
    )
    assert rows[0]["owner"] == rep.username


def test_activity_export_lists_only_the_callers_activities(api_as, rep, other_rep):
    mine = ActivityFactory(owner=rep, lead__owner=rep, is_cold_call=True)
    ActivityFactory(owner=other_rep, lead__owner=other_rep)

    rows = _rows(api_as(rep).get("/api/v1/activities/export/"))

    assert [(row["id"], row["is_cold_call"]) for row in rows] == [
        (str(mine.pk), "true")
    ]


def test_deal_admin_exports_the_selected_deals(client, rep):
    deals = [DealFactory(owner=rep) for _ in range(3)]
    client.force_login(rep)

    response = client.post(
        "/admin/pipeline/deal/",
        {"action": "export_csv", "_selected_action": [deals[0].pk, deals[2].pk]},
    )

    assert [row["id"] for row in _rows(response)] == [
        str(deals[0].pk),
        str(deals[2].pk),
    ]
