"""The schema's shape is what generated clients need (see test_generated_client)."""

import datetime

import pytest

from crm.models import DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def operations(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        schema = Client().get("/api/schema/", {"format": "json"}).json()
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_operation_ids_carry_no_version_prefix(operations):
    ids = [op["operationId"] for _, _, op in operations]

    assert [i for i in ids if i.startswith("v1")] == []
    assert "leads_convert_create" in ids


def test_each_operation_has_one_tag_named_after_its_resource(operations):
    for path, _method, operation in operations:
        resource = path.removeprefix("/api/v1/").split("/")[0]
        assert operation["tags"] == [resource], path


# A CSV file is uploaded as a file, not as JSON text.
FILE_UPLOADS = {("post", "/api/v1/imports/")}


def test_request_bodies_are_json_only(operations):
    for path, method, operation in operations:
        content = operation.get("requestBody", {}).get("content", {})
        allowed = (
            {"multipart/form-data"}
            if (method, path) in FILE_UPLOADS
            else {"application/json"}
        )
        assert set(content) <= allowed, (method, path)


def test_no_list_is_a_bare_array(operations):
    for path, method, operation in operations:
        ok = operation["responses"].get("200", {}).get("content", {})
        schema = ok.get("application/json", {}).get("schema", {})
        assert schema.get("type") != "array", (method, path)


def test_webhook_attempts_are_paginated_like_every_list(api_as, integration):
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in",
        secret="s" * 32,
        events=["deal.won"],
        created_by=integration,
    )
    delivery = WebhookDelivery.objects.create(
        event=OutboxEvent.objects.create(event_type="deal.won", payload={}),
        endpoint=endpoint,
    )
    start = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=delivery,
            attempted_at=start + datetime.timedelta(minutes=n),
            status_code=500,
            duration_ms=n,
        )
        for n in range(3)
    )

    page = api_as(integration).get(
        f"/api/v1/webhooks/{endpoint.pk}/attempts/", {"page_size": 2}
    )

    body = page.json()
    assert body["count"] == 3
    assert [a["duration_ms"] for a in body["results"]] == [2, 1]
    assert body["next"] is not None
