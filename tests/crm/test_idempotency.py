"""Integrations retry POSTs safely with an Idempotency-Key."""

import datetime
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from crm import idempotency
from crm.idempotency import HEADER
from crm.models import Company, IdempotencyKey, WebhookEndpoint
from crm.serializers import CompanySerializer
from leads.models import Touch
from leads.views import CaptureThrottle
from pipeline import services as pipeline_services
from tests.factories import (
    CompanyFactory,
    ContentOfferFactory,
    DealFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


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


# --- a request that died, browsers, anonymous callers, replayed headers ----------


def test_a_key_whose_request_died_is_usable_again_after_its_lease(
    api_as, integration, monkeypatch
):
    # given a request killed inside the view (a worker killed mid-way: nothing
    # answers, nothing frees the key)
    client = api_as(integration)
    original_create = CompanySerializer.create

    def killed(self, validated_data):
        raise SystemExit("worker killed")

    monkeypatch.setattr(CompanySerializer, "create", killed)
    with time_machine.travel(NOON, tick=False), pytest.raises(SystemExit):
        _post(client, {"name": "Acme"})
    monkeypatch.setattr(CompanySerializer, "create", original_create)

    # when the client retries at once, the key is still held: 409 with a delay
    with time_machine.travel(NOON + datetime.timedelta(seconds=30), tick=False):
        early = _post(client, {"name": "Acme"})
    # and when it retries after the lease, the work is done (once)
    with time_machine.travel(NOON + idempotency.LEASE, tick=False):
        late = _post(client, {"name": "Acme"})
        replay = _post(client, {"name": "Acme"})

    assert early.status_code == 409
    assert early.json()["errors"][0]["code"] == "request_in_progress"
    assert 0 < int(early["Retry-After"]) <= idempotency.LEASE.total_seconds()
    assert late.status_code == 201
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert Company.objects.count() == 1


def test_a_server_error_frees_the_key(api_as, integration, monkeypatch):
    client = api_as(integration)
    client.raise_request_exception = False
    original_create = CompanySerializer.create

    def broken(self, validated_data):
        raise RuntimeError("database went away")

    monkeypatch.setattr(CompanySerializer, "create", broken)
    failed = _post(client, {"name": "Acme"})
    monkeypatch.setattr(CompanySerializer, "create", original_create)

    retry = _post(client, {"name": "Acme"})

    assert failed.status_code == 500
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry


def _session_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/admin/")  # sets the CSRF cookie, as the browser's first page does
    return client, client.cookies["csrftoken"].value


def test_a_browser_session_with_its_csrf_token_can_use_a_key(rep):
    client, csrf = _session_client(rep)
    headers = {"X-CSRFToken": csrf, HEADER: "browser-1"}

    first = client.post(
        "/api/v1/companies/", {"name": "Acme"}, "application/json", headers=headers
    )
    second = client.post(
        "/api/v1/companies/", {"name": "Acme"}, "application/json", headers=headers
    )

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert Company.objects.get().owner == rep


def test_a_browser_session_without_csrf_token_is_refused_and_stores_nothing(rep):
    client, _csrf = _session_client(rep)

    response = client.post(
        "/api/v1/companies/",
        {"name": "Acme"},
        "application/json",
        headers={HEADER: "browser-1"},
    )

    assert response.status_code == 403
    assert "CSRF" in response.json()["errors"][0]["detail"]
    assert not IdempotencyKey.objects.exists()
    assert not Company.objects.exists()


def test_anonymous_callers_store_no_key_where_they_cannot_write(anon_api):
    responses = [
        anon_api.post(
            "/api/v1/companies/", {"name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY=k
        )
        for k in ("a", "b", "c")
    ]

    assert {r.status_code for r in responses} == {401}
    assert not IdempotencyKey.objects.exists()


@pytest.fixture
def capture_offer(team, rep):
    team.handles_inbound = True
    team.save()
    return ContentOfferFactory(slug="playbook", external_url="https://x.example/p")


def _capture(client, key, email="ana@corp.example"):
    return client.post(
        "/api/v1/capture/",
        {"offer": "playbook", "first_name": "Ana", "email": email, "consent": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_the_public_capture_form_can_be_retried_with_a_key(anon_api, capture_offer):
    first = _capture(anon_api, "form-1")
    retry = _capture(anon_api, "form-1")

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert Touch.objects.count() == 1


def test_a_throttled_capture_stores_no_key(
    anon_api, capture_offer, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(CaptureThrottle, "THROTTLE_RATES", {"capture": "2/min"})
    with time_machine.travel(NOON, tick=False):
        statuses = [
            _capture(anon_api, f"form-{n}", email=f"p{n}@corp.example").status_code
            for n in range(2)
        ]
        # Refused before the key is looked at: not a single write.
        with django_assert_num_queries(0):
            statuses += [_capture(anon_api, f"form-{n}").status_code for n in (2, 3)]

    assert statuses == [201, 201, 429, 429]
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {
        "form-0",
        "form-1",
    }


def test_a_replay_repeats_the_etag(api_as, rep):
    deal = pipeline_services.deal_create(
        by=rep, title="Big", channel="outbound", amount=10
    )
    client = api_as(rep)
    url = f"/api/v1/deals/{deal.pk}/move/"

    first = client.post(
        url, {"stage": "presentation"}, format="json", HTTP_IDEMPOTENCY_KEY="mv"
    )
    replay = client.post(
        url, {"stage": "presentation"}, format="json", HTTP_IDEMPOTENCY_KEY="mv"
    )

    assert first.status_code == replay.status_code == 200
    assert first["ETag"] == replay["ETag"] == '"2"'
    assert replay.json() == first.json()


def test_a_webhook_secret_is_never_stored_nor_replayed(api_as, integration):
    client = api_as(integration)
    body = {"url": "https://hooks.example.com/in", "events": ["deal.won"]}

    first = client.post(
        "/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="w"
    )
    replay = client.post(
        "/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="w"
    )

    secret = first.json()["secret"]
    assert len(secret) == 64
    assert replay.status_code == 201
    assert "secret" not in replay.json()
    assert replay.json()["id"] == first.json()["id"]
    assert secret.encode() not in bytes(IdempotencyKey.objects.get().response_body)
    assert WebhookEndpoint.objects.count() == 1


def test_a_replayed_webhook_creation_matches_its_documented_response(
    api_as, integration
):
    # A client generated from the schema parses the replay too: the creation
    # response documents the secret as absent when it is not shown again.
    client = api_as(integration)
    body = {"url": "https://hooks.example.com/in", "events": ["deal.won"]}
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    created = schema["paths"]["/api/v1/webhooks/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]

    for _ in range(2):
        response = client.post(
            "/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="w"
        )
        assert response.status_code == 201
        assert set(component["required"]) <= set(response.json())
    assert "secret" in component["properties"]


def test_a_conflict_is_not_stored_so_a_retry_checks_again(api_as, rep):
    # Ending an ended subscription is a field error (400) on the integration
    # line; winning a deal that is not at closing is the state conflict (409).
    deal = DealFactory(owner=rep)
    client = api_as(rep)
    win_url = f"/api/v1/deals/{deal.pk}/win/"

    first = client.post(win_url, {}, format="json", HTTP_IDEMPOTENCY_KEY="e")

    assert first.status_code == 409
    assert not IdempotencyKey.objects.exists()


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs concurrent transactions; SQLite serialises writers",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_do_the_work_once_on_postgres(integration):
    # given five copies of one request sent at the same moment
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def send():
        try:
            client = APIClient()
            client.force_authenticate(integration)
            barrier.wait(timeout=10)
            statuses.append(_post(client, {"name": "Acme"}, key="same").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then one creates the company; the others are told it runs, or replayed
    assert len(statuses) == 5
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert Company.objects.count() == 1


def test_a_replay_repeats_location_and_etag_but_no_other_header(integration):
    # given a claimed key and the response its request gave
    record, _ = idempotency._begin(f"user:{integration.pk}", "loc", "f" * 64)
    original = HttpResponse(b'{"id": 7}', status=201, content_type="application/json")
    original["Location"] = "/api/v1/companies/7/"
    original["ETag"] = '"1"'
    original["Set-Cookie"] = "session=secret"

    idempotency._finish(record, original)
    _, replay = idempotency._begin(f"user:{integration.pk}", "loc", "f" * 64)

    assert replay.status_code == 201
    assert replay.content == b'{"id": 7}'
    assert (replay["Location"], replay["ETag"]) == ("/api/v1/companies/7/", '"1"')
    assert "Set-Cookie" not in replay
