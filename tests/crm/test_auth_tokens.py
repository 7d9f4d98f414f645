"""Integrations log in with a username and password and get a revocable token."""

import datetime

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _login(username: str, password: str):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}
    )


def test_token_login_returns_a_token_that_authenticates(integration):
    response = _login("integration", "pass-Word-1")

    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "integration"
    assert me.json()["role"] == "integration"


def test_token_is_stored_hashed(integration):
    token = _login("integration", "pass-Word-1").json()["token"]

    stored = AuthToken.objects.get(user=integration)
    assert token not in (stored.digest, stored.token_key)


def test_a_user_may_hold_several_tokens(integration):
    _login("integration", "pass-Word-1")
    _login("integration", "pass-Word-1")

    assert AuthToken.objects.filter(user=integration).count() == 2


def test_wrong_password_is_a_400_with_a_message(integration):
    response = _login("integration", "wrong")

    assert response.status_code == 400
    assert "Unable to log in" in response.json()["errors"][0]["detail"]


def test_revoked_token_no_longer_authenticates(integration):
    token = _login("integration", "pass-Word-1").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/users/me/").status_code == 401


def test_expired_token_is_refused(integration):
    token = _login("integration", "pass-Word-1").json()["token"]
    AuthToken.objects.filter(user=integration).update(
        expiry=timezone.now() - datetime.timedelta(seconds=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.get("/api/v1/users/me/").status_code == 401
