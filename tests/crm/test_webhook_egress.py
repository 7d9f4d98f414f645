"""Webhooks cannot be aimed at our own network (SSRF), and leak nothing if tried.

Egress rules (crm/egress.py): public addresses only, checked at registration and
again after resolving at each delivery, connecting to the checked address; no
redirects; attempts record a status or a fixed error class.
"""

import datetime
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core.exceptions import ValidationError

from crm import egress, webhooks
from crm.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from crm.models.integrations import DeliveryError
from crm.services import subscription_end
from tests.factories import CompanyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"
NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


class Receiver:
    """A local HTTP server answering ``status`` (with ``location`` if given)."""

    def __init__(self, status: int = 204, location: str = ""):
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def private_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def _resolve_to(monkeypatch, *answers: str) -> list[str]:
    """Make every name resolve to ``answers`` (in turn); return the names asked."""
    asked, queue = [], list(answers)

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(egress.socket, "getaddrinfo", getaddrinfo)
    return asked


def _endpoint(url, **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url=url, secret="s3cret-signing-key", events=["subscription.ended"], **fields
    )


def _event(rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))
    subscription_end(subscription=subscription, by=rep)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://localhost/hooks",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://0.0.0.0:22/",
    ],
)
def test_registration_refuses_non_public_addresses(url, api_as, integration):
    response = api_as(integration).post(
        "/api/v1/webhooks/", {"url": url, "events": ["deal.won"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "url"
    assert not WebhookEndpoint.objects.exists()


def test_registration_refuses_a_name_that_resolves_inside(
    monkeypatch, api_as, integration
):
    _resolve_to(monkeypatch, "10.0.0.7")

    response = api_as(integration).post(
        "/api/v1/webhooks/",
        {"url": "https://intranet.example.com/", "events": ["deal.won"]},
        format="json",
    )

    assert response.status_code == 400


def test_registration_accepts_public_addresses(monkeypatch, api_as, integration):
    _resolve_to(monkeypatch, PUBLIC)

    response = api_as(integration).post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/in", "events": ["deal.won"]},
        format="json",
    )

    assert response.status_code == 201


def test_the_admin_form_applies_the_same_rule():
    endpoint = WebhookEndpoint(url="http://127.0.0.1/", secret="x" * 16, events=[])

    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()

    assert "url" in refused.value.message_dict


def test_development_setting_and_named_hosts_allow_private_addresses(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    egress.validate_destination("http://127.0.0.1:9000/")

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["localhost"]
    egress.validate_destination("http://localhost:9000/")
    with pytest.raises(ValidationError):
        egress.validate_destination("http://127.0.0.1:9000/")


def test_delivery_to_a_private_address_is_refused_without_a_connection(rep, receiver):
    _endpoint(receiver.url)  # stored before the rules, or written to the database
    _event(rep)

    webhooks.deliver_due()

    assert receiver.requests == []
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (None, "blocked")


def test_dns_rebinding_after_registration_is_refused(
    monkeypatch, api_as, integration, rep, receiver
):
    # Public when registered, the loopback receiver when delivered.
    _resolve_to(monkeypatch, PUBLIC, "127.0.0.1")
    created = api_as(integration).post(
        "/api/v1/webhooks/",
        {"url": f"http://rebind.example.com:{receiver.port}/", "events": ["deal.won"]},
        format="json",
    )
    assert created.status_code == 201
    WebhookEndpoint.objects.update(events=["subscription.ended"])
    _event(rep)

    webhooks.deliver_due()

    assert receiver.requests == []
    assert DeliveryAttempt.objects.get().error == "blocked"


def test_delivery_connects_to_the_address_it_checked(
    monkeypatch, private_allowed, rep, receiver
):
    asked = _resolve_to(monkeypatch, "127.0.0.1")
    _endpoint(f"http://hooks.example.com:{receiver.port}/in")
    _event(rep)

    webhooks.deliver_due()

    # One resolution of the name (the connection only parses the checked
    # address), and the request went to its answer, naming the host.
    assert [name for name in asked if name != "127.0.0.1"] == ["hooks.example.com"]
    headers, _ = receiver.requests[0]
    assert headers["Host"] == f"hooks.example.com:{receiver.port}"
    assert DeliveryAttempt.objects.get().status_code == 204


def test_redirects_are_not_followed(private_allowed, rep, receiver):
    redirector = Receiver(status=302, location=receiver.url)
    try:
        _endpoint(redirector.url)
        _event(rep)
        webhooks.deliver_due()
    finally:
        redirector.close()

    assert len(redirector.requests) == 1
    assert receiver.requests == []
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (302, "")
    assert WebhookDelivery.objects.get().status == "pending"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_failures_are_recorded_as_fixed_classes(
    monkeypatch, private_allowed, api_as, integration, rep, receiver
):
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.3)
    endpoints = {
        "refused": _endpoint(
            f"http://127.0.0.1:{_closed_port()}/", created_by=integration
        ),
        "timeout": _endpoint(
            f"http://127.0.0.1:{silent.getsockname()[1]}/", created_by=integration
        ),
        "tls": _endpoint(
            f"https://127.0.0.1:{receiver.port}/", created_by=integration
        ),  # plain HTTP
        "dns": _endpoint("http://no-such-host.invalid/", created_by=integration),
    }
    _event(rep)
    try:
        webhooks.deliver_due()
    finally:
        silent.close()

    for expected, endpoint in endpoints.items():
        attempt = DeliveryAttempt.objects.get(delivery__endpoint=endpoint)
        assert (attempt.status_code, attempt.error) == (None, expected)
        shown = api_as(integration).get(f"/api/v1/webhooks/{endpoint.pk}/attempts/")
        assert shown.json()["results"][0]["error"] == expected
    assert set(DeliveryAttempt.objects.values_list("error", flat=True)) <= set(
        DeliveryError.values
    )


def test_a_deactivated_endpoint_gets_nothing(private_allowed, rep, receiver):
    endpoint = _endpoint(receiver.url)
    _event(rep)
    webhooks.fan_out()  # queued while active
    endpoint.active = False
    endpoint.save()
    _event(rep)

    webhooks.deliver_due()

    assert receiver.requests == []
    assert not DeliveryAttempt.objects.exists()


def test_an_endpoint_receives_only_events_after_its_creation(
    private_allowed, rep, receiver
):
    with time_machine.travel(NOW, tick=False):
        _event(rep)
    with time_machine.travel(NOW + datetime.timedelta(minutes=1), tick=False):
        _endpoint(receiver.url)
        _event(rep)
    webhooks.deliver_due()

    assert len(receiver.requests) == 1


def test_rotated_secret_keeps_both_keys_valid_during_the_grace_period(
    private_allowed, api_as, integration, rep, receiver
):
    client = api_as(integration)

    with time_machine.travel(NOW, tick=False):
        endpoint = _endpoint(receiver.url, created_by=integration)
        old = endpoint.secret
        rotated = client.post(
            f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {}, format="json"
        )
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new != old
        assert rotated.json()["previous_secret_expires_at"] == (
            "2026-03-03T11:00:00+01:00"  # 24 hours later, in the suite's zone
        )
        _event(rep)
        webhooks.deliver_due()
        headers, body = receiver.requests[-1]
        assert webhooks.verify(new, headers["X-CRM-Signature"], body)
        assert webhooks.verify(old, headers["X-CRM-Signature"], body)

    with time_machine.travel(NOW + datetime.timedelta(hours=25), tick=False):
        _event(rep)
        webhooks.deliver_due()
        headers, body = receiver.requests[-1]
        assert webhooks.verify(new, headers["X-CRM-Signature"], body)
        assert not webhooks.verify(old, headers["X-CRM-Signature"], body)


def test_the_secret_is_not_replaced_without_a_grace_period(api_as, integration):
    endpoint = _endpoint("https://93.184.216.34/in", created_by=integration)

    response = api_as(integration).patch(
        f"/api/v1/webhooks/{endpoint.pk}/", {"secret": "n" * 32}, format="json"
    )

    assert response.status_code == 400
    endpoint.refresh_from_db()
    assert endpoint.secret == "s3cret-signing-key"
