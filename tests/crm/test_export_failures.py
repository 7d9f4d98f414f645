"""An export that fails is an error the client sees, never a clean truncated file."""

import pytest
from django.db import OperationalError
from django.db.models.query import QuerySet
from rest_framework.test import APIClient

from crm.models import Company
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(rep):
    client = APIClient()
    client.raise_request_exception = False  # see the response a user would get
    client.force_authenticate(rep)
    return client


def _failing_after(monkeypatch, rows: int):
    original = QuerySet.iterator

    def iterator(self, chunk_size=None):
        for number, row in enumerate(original(self, chunk_size=chunk_size)):
            if number == rows:
                break
            yield row
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(QuerySet, "iterator", iterator)


def test_an_export_whose_query_fails_at_once_is_a_500(monkeypatch, client, rep):
    CompanyFactory.create_batch(3, owner=rep)
    _failing_after(monkeypatch, rows=0)

    response = client.get("/api/v1/companies/export/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")


def test_an_export_failing_mid_stream_aborts_instead_of_ending_cleanly(
    monkeypatch, client, rep
):
    CompanyFactory.create_batch(5, owner=rep)
    _failing_after(monkeypatch, rows=2)

    response = client.get("/api/v1/companies/export/")
    assert response.status_code == 200  # already sent when the failure comes
    received = []
    with pytest.raises(OperationalError):
        received.extend(response.streaming_content)

    # The header and two rows went out; the body ends in an error, not an EOF.
    assert len(received) == 3
    assert Company.objects.count() == 5


def test_a_bad_export_request_is_a_json_400(client):
    response = client.get("/api/v1/companies/export/", {"search": "x" * 500})

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "search"
