"""Webhooks: written in the change's transaction, delivered signed, retried."""

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from crm import webhooks
from crm.models import (
    DeliveryAttempt,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from crm.services import subscription_end
from tests.factories import CompanyFactory, SubscriptionFactory
from tests.markers import postgres_only

pytestmark = pytest.mark.django_db

SECRET = "s3cret-signing-key-for-tests"


class Receiver:
    """A real HTTP server on 127.0.0.1 that fails its first ``fail_first`` calls."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[tuple] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.requests.append((self.headers, body))  # case-insensitive
                    failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    # The receivers of these tests listen on 127.0.0.1, which production refuses
    # (tests/crm/test_webhook_egress.py tests that rule).
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _endpoint(url, events=(WebhookEventType.SUBSCRIPTION_ENDED,)):
    return WebhookEndpoint.objects.create(url=url, secret=SECRET, events=list(events))


def _end_subscription(rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))
    subscription_end(subscription=subscription, by=rep, reason="Too expensive")
    return subscription


def test_fan_out_twice_creates_each_delivery_once(rep, receiver):
    _endpoint(receiver.url)
    _end_subscription(rep)

    webhooks.fan_out()
    OutboxEvent.objects.update(dispatched_at=None)  # as if a worker died mid-way
    webhooks.fan_out()

    assert WebhookDelivery.objects.count() == 1


def _make_due():
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())


def test_event_is_written_with_the_change(rep, receiver):
    _endpoint(receiver.url)

    subscription = _end_subscription(rep)
    webhooks.fan_out()

    event = OutboxEvent.objects.get()
    assert event.event_type == "subscription.ended"
    assert event.payload["subscription"] == subscription.pk
    assert event.payload["churn_reason"] == "Too expensive"
    assert WebhookDelivery.objects.get().endpoint.url == receiver.url


def test_no_event_for_a_rolled_back_change(rep, receiver):
    _endpoint(receiver.url)
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))

    def end_then_fail():
        with transaction.atomic():
            subscription_end(subscription=subscription, by=rep)
            raise RuntimeError("the caller's transaction fails after the change")

    with pytest.raises(RuntimeError):
        end_then_fail()

    assert not OutboxEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_endpoints_receive_only_the_events_they_subscribed_to(rep, receiver):
    _endpoint(receiver.url, events=[WebhookEventType.DEAL_WON])

    _end_subscription(rep)
    webhooks.fan_out()

    assert OutboxEvent.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


def test_delivery_posts_a_signed_json_body(rep, receiver):
    _endpoint(receiver.url)
    _end_subscription(rep)

    call_command("deliver_webhooks", "--once", verbosity=0)

    headers, body = receiver.requests[0]
    assert headers["X-CRM-Event"] == "subscription.ended"
    assert webhooks.verify(SECRET, headers["X-CRM-Signature"], body)
    assert not webhooks.verify("another secret", headers["X-CRM-Signature"], body)
    assert not webhooks.verify(SECRET, headers["X-CRM-Signature"], body + b" ")
    assert json.loads(body)["type"] == "subscription.ended"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered"
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code == 204
    assert attempt.duration_ms >= 0


def test_failing_receiver_is_retried_with_backoff_until_it_recovers(rep):
    receiver = Receiver(fail_first=2)
    try:
        _endpoint(receiver.url)
        _end_subscription(rep)

        before = timezone.now()
        webhooks.deliver_due()
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending"
        # First retry after about 30 seconds, then twice as long.
        wait = delivery.next_attempt_at - before
        assert datetime.timedelta(seconds=29) < wait < datetime.timedelta(seconds=40)
        assert webhooks.deliver_due() == 0  # not due yet

        _make_due()
        webhooks.deliver_due()
        delivery.refresh_from_db()
        assert delivery.next_attempt_at - timezone.now() > datetime.timedelta(
            seconds=55
        )

        _make_due()
        webhooks.deliver_due()
    finally:
        receiver.close()

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert list(
        DeliveryAttempt.objects.order_by("attempted_at").values_list(
            "status_code", flat=True
        )
    ) == [500, 500, 204]
    assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_gives_up_after_24_hours_and_flags_the_endpoint(rep):
    endpoint = _endpoint("http://127.0.0.1:9/unreachable")
    _end_subscription(rep)
    OutboxEvent.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    WebhookEndpoint.objects.update(
        consecutive_failures=webhooks.FAILING_AFTER - 1,
        # Registered before the event: endpoints receive only later events.
        created_at=timezone.now() - datetime.timedelta(hours=26),
    )

    webhooks.deliver_due()

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert DeliveryAttempt.objects.get().error
    endpoint.refresh_from_db()
    assert endpoint.is_failing


def test_a_claimed_delivery_is_not_claimed_by_another_worker(rep, receiver):
    _endpoint(receiver.url)
    for _ in range(3):
        _end_subscription(rep)
    webhooks.fan_out()

    first = webhooks.claim_due(batch=2)
    second = webhooks.claim_due(batch=10)

    assert len(first) == 2
    assert len(second) == 1
    assert {d.pk for d in first}.isdisjoint({d.pk for d in second})


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_event_once(rep, receiver):
    _endpoint(receiver.url)
    for _ in range(12):
        _end_subscription(rep)

    def worker():
        try:
            while webhooks.deliver_due(batch=3):
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    delivery_ids = [headers["X-CRM-Delivery"] for headers, _ in receiver.requests]
    assert len(delivery_ids) == 12
    assert len(set(delivery_ids)) == 12
    assert WebhookDelivery.objects.filter(status="delivered").count() == 12


def test_integration_registers_a_webhook_and_gets_its_secret_once(api_as, integration):
    client = api_as(integration)

    created = client.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example/crm", "events": ["deal.won", "lead.created"]},
        format="json",
    )

    assert created.status_code == 201
    assert len(created.json()["secret"]) == 64
    listed = client.get(f"/api/v1/webhooks/{created.json()['id']}/").json()
    assert "secret" not in listed
    assert listed["events"] == ["deal.won", "lead.created"]


def test_unknown_event_is_a_400(api_as, integration):
    response = api_as(integration).post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example/crm", "events": ["deal.exploded"]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"].startswith("events")


def test_reps_cannot_manage_webhooks(api_as, rep):
    assert api_as(rep).get("/api/v1/webhooks/").status_code == 403
