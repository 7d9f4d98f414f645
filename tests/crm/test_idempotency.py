"""Integrations retry POSTs safely with an Idempotency-Key."""

import datetime
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from crm.models import Company, IdempotencyKey
from crm.serializers import CompanySerializer
from tests.factories import CompanyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def _post(client, body, key="key-1"):
    return client.post(
        "/api/v1/companies/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_repeat_with_same_key_and_body_replays_without_redoing(api_as, integration):
    client = api_as(integration)
    first = _post(client, {"name": "Acme"})

    second = _post(client, {"name": "Acme"})

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Company.objects.count() == 1


def test_same_key_with_another_body_is_a_422(api_as, integration):
    client = api_as(integration)
    _post(client, {"name": "Acme"})

    response = _post(client, {"name": "Other"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert Company.objects.count() == 1


def test_keys_are_per_user(api_as, integration, rep):
    _post(api_as(integration), {"name": "Acme"})

    response = _post(api_as(rep), {"name": "Acme 2"})

    assert response.status_code == 201
    assert Company.objects.count() == 2


def test_actions_are_idempotent_too(api_as, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))
    client = api_as(rep)
    url = f"/api/v1/subscriptions/{subscription.pk}/end/"

    first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="end-1")
    retry = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="end-1")

    # Without the key, the retry would be a 409 "already ended".
    assert first.status_code == retry.status_code == 200


def test_a_validation_error_is_replayed_as_well(api_as, rep):
    client = api_as(rep)

    first = _post(client, {"name": ""})
    second = _post(client, {"name": ""})

    assert first.status_code == second.status_code == 400
    assert second["Idempotent-Replayed"] == "true"


def test_purge_deletes_keys_older_than_24_hours(api_as, rep):
    _post(api_as(rep), {"name": "Acme"}, key="old")
    _post(api_as(rep), {"name": "Beta"}, key="new")
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )

    call_command("purge_idempotency_keys", verbosity=0)

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_an_expired_key_does_the_work_again(api_as, rep):
    client = api_as(rep)
    _post(client, {"name": "Acme"})
    IdempotencyKey.objects.update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )

    response = _post(client, {"name": "Acme 2"})

    assert response.status_code == 201
    assert Company.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_do_the_work_once(
    api_as, integration, monkeypatch
):
    entered, release = threading.Event(), threading.Event()
    original_create = CompanySerializer.create

    def slow_create(self, validated_data):
        entered.set()
        release.wait(timeout=10)
        return original_create(self, validated_data)

    monkeypatch.setattr(CompanySerializer, "create", slow_create)
    results = {}

    def first_request():
        try:
            results["first"] = _post(api_as(integration), {"name": "Acme"}, key="k")
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    assert entered.wait(timeout=10)
    # The first request is inside the view: the second one must not start it again.
    second = _post(api_as(integration), {"name": "Acme"}, key="k")
    release.set()
    thread.join(timeout=10)

    assert second.status_code == 409
    assert second.json()["errors"][0]["code"] == "request_in_progress"
    assert results["first"].status_code == 201
    assert Company.objects.count() == 1
