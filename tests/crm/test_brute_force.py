"""Password guessing is stopped per account and per address, whatever headers say.

The lockout is django-axes (settings: AXES_*); the client address is
REMOTE_ADDR unless TRUSTED_PROXY_COUNT proxies are declared (crm/client_ip.py).
"""

import datetime

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.test import Client, RequestFactory
from django.test.utils import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from crm.client_ip import client_ip

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
LIMIT = settings.AXES_FAILURE_LIMIT
NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _token(client, password, *, username="integration", **extra):
    return client.post(
        TOKEN, {"username": username, "password": password}, format="json", **extra
    )


def test_rotating_x_forwarded_for_does_not_escape_the_throttle(
    monkeypatch, integration
):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "3/min")
    client = APIClient()

    statuses = [
        _token(client, "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(4)
    ]

    assert statuses == [400, 400, 400, 429]


def test_rotating_x_forwarded_for_does_not_escape_the_lockout(integration):
    client = APIClient()
    for i in range(LIMIT):
        _token(client, "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")

    # The right password, from a "fresh" forwarded address: still refused.
    response = _token(client, "pass-Word-1", HTTP_X_FORWARDED_FOR="192.0.2.77")

    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "throttled"
    assert "token" not in response.json()


def test_account_is_locked_after_failures_from_many_addresses(integration):
    client = APIClient()
    # 250 wrong passwords, each from another real address (a botnet).
    for i in range(250):
        _token(client, "guess", REMOTE_ADDR=f"10.{i // 250}.{i % 250}.1")

    response = _token(client, "pass-Word-1", REMOTE_ADDR="192.0.2.1")

    assert response.status_code == 429


def test_address_is_locked_after_failures_on_several_accounts(integration, rep):
    client = APIClient()
    for i in range(LIMIT):
        _token(client, "guess", username=f"someone{i}")

    # The address is locked, even for another account's right password.
    assert _token(client, "pass-Word-1", username="rep").status_code == 429
    # Another address may still log in to that account.
    other = _token(client, "pass-Word-1", username="rep", REMOTE_ADDR="192.0.2.9")
    assert other.status_code == 200


def test_fewer_failures_than_the_limit_do_not_lock(integration):
    client = APIClient()
    for _ in range(LIMIT - 1):
        assert _token(client, "guess").status_code == 400

    assert _token(client, "pass-Word-1").status_code == 200


def test_locked_out_guesses_cost_no_password_hashing(monkeypatch, integration):
    client = APIClient()
    for _ in range(LIMIT):
        _token(client, "guess")
    checked = []
    original = ModelBackend.authenticate
    monkeypatch.setattr(
        ModelBackend,
        "authenticate",
        lambda self, *args, **kwargs: (
            checked.append(1) or original(self, *args, **kwargs)
        ),
    )

    statuses = {_token(client, "guess").status_code for _ in range(20)}

    assert statuses == {429}
    assert checked == []


def test_lockout_ends_after_the_cool_off(integration):
    client = APIClient()
    for _ in range(LIMIT):
        _token(client, "guess")
    assert _token(client, "pass-Word-1").status_code == 429

    later = NOW + settings.AXES_COOLOFF_TIME + datetime.timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert _token(client, "pass-Word-1").status_code == 200


def test_admin_login_is_locked_too(admin_user):
    client = Client()
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "admin", "password": "guess"})

    response = client.post(
        "/admin/login/",
        {"username": "admin", "password": "pass-Word-1"},
        REMOTE_ADDR="192.0.2.5",
    )

    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302  # not logged in


def test_failed_logins_are_audited_and_an_admin_can_unlock(integration, admin_user):
    client = APIClient()
    for _ in range(LIMIT):
        _token(client, "guess")
    assert _token(client, "pass-Word-1").status_code == 429
    assert AccessFailureLog.objects.filter(username="integration").count() == LIMIT
    admin = Client()
    admin.force_login(admin_user)
    assert admin.get("/admin/axes/accessattempt/").status_code == 200
    assert admin.get("/admin/axes/accessfailurelog/").status_code == 200

    response = admin.post(
        "/admin/axes/accessattempt/",
        {
            "action": "unlock",
            "_selected_action": list(
                AccessAttempt.objects.values_list("pk", flat=True)
            ),
        },
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert _token(client, "pass-Word-1").status_code == 200


def test_client_address_ignores_forwarded_for_without_trusted_proxies():
    request = RequestFactory().get(
        "/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.5"
    )

    assert client_ip(request) == "192.0.2.10"


def test_client_address_is_read_from_the_right_behind_trusted_proxies():
    # The client forged the first entry; our one proxy appended the real peer.
    request = RequestFactory().get(
        "/",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.7",
    )
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    ):
        assert client_ip(request) == "198.51.100.7"


def test_x_forwarded_proto_is_not_trusted_unless_configured():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")

    assert settings.SECURE_PROXY_SSL_HEADER is None
    assert not request.is_secure()
