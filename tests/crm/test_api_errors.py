"""Every API error, 4xx or 5xx, is JSON in one format with a message per field."""

import pytest

pytestmark = pytest.mark.django_db


def test_validation_error_lists_one_message_per_field(api_as, rep):
    response = api_as(rep).post(
        "/api/v1/companies/", {"name": "", "employees": -3}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    fields = {error["attr"] for error in body["errors"]}
    assert fields == {"name", "employees"}
    assert all(error["detail"] for error in body["errors"])


def test_unauthenticated_request_gets_json_401(anon_api):
    response = anon_api.get("/api/v1/companies/")

    assert response.status_code == 401
    assert response.json()["type"] == "client_error"


def test_unknown_api_url_answers_json_not_html(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "not_found"


def test_malformed_json_is_a_400_not_a_500(api_as, rep):
    response = api_as(rep).generic(
        "POST", "/api/v1/companies/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"
