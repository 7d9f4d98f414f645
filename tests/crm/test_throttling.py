"""Clients that call too often are slowed down with a 429 and a Retry-After."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db


def test_password_guessing_is_throttled_with_retry_after(monkeypatch, integration):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "3/min")
    client = APIClient()
    guess = {"username": "integration", "password": "guess"}

    statuses = [client.post("/api/v1/auth/token/", guess).status_code for _ in range(4)]

    assert statuses == [400, 400, 400, 429]
    last = client.post("/api/v1/auth/token/", guess)
    assert int(last["Retry-After"]) > 0
    assert last.json()["errors"][0]["code"] == "throttled"


def test_authenticated_user_is_throttled_per_user(monkeypatch, rep, other_rep, api_as):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "2/min")
    client = api_as(rep)

    statuses = [client.get("/api/v1/companies/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    # Another user has their own budget.
    assert api_as(other_rep).get("/api/v1/companies/").status_code == 200
