"""Only the public capture endpoint is opened to the marketing site's origins."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _marketing_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://www.marketing.example"]


def _preflight(client, path, origin):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )


def test_capture_accepts_the_allowed_origin(client):
    response = _preflight(client, "/api/v1/capture/", "https://www.marketing.example")

    assert response["Access-Control-Allow-Origin"] == "https://www.marketing.example"


def test_capture_refuses_another_origin(client):
    response = _preflight(client, "/api/v1/capture/", "https://evil.example")

    assert "Access-Control-Allow-Origin" not in response


def test_rest_of_the_api_is_not_opened_cross_origin(client):
    response = _preflight(client, "/api/v1/companies/", "https://www.marketing.example")

    assert "Access-Control-Allow-Origin" not in response
