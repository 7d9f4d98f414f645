"""/healthz, /readyz and /metrics: what a load balancer and Prometheus rely on."""

import pytest
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from crm import health

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up():
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_migrations_cache_and_broker():
    response = Client().get("/readyz")

    assert response.status_code == 200
    # No broker configured (the tests, make demo): jobs run in-process.
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "cache": "ok",
            "broker": "in-process",
        },
    }


def test_readyz_is_503_naming_the_cache_when_it_is_down(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Connection refused")

    monkeypatch.setattr(health.cache, "set", down)

    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"].startswith("failed: ConnectionError")
    assert body["checks"]["database"] == "ok"


def test_readyz_is_503_while_migrations_are_pending(monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [("leads", "x")]
    )

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == (
        "failed: RuntimeError: 1 migration(s) not applied"
    )


def test_readyz_is_503_when_the_broker_is_unreachable(monkeypatch):
    conf = health.celery_app.conf
    monkeypatch.setitem(conf, "task_always_eager", False)
    monkeypatch.setitem(conf, "broker_url", "redis://127.0.0.1:1/0")  # nobody there

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("failed:")


def test_probes_answer_plain_http_when_https_is_enforced(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # built after the setting: SecurityMiddleware reads it once

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/admin/").status_code == 301  # everything else goes to https


def test_metrics_are_served_to_allowed_addresses_only(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "10.0.0.0/8"]
    Client().get("/healthz")  # one request counted

    local = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    in_network = Client(REMOTE_ADDR="10.1.2.3").get("/metrics")
    outside = Client(REMOTE_ADDR="203.0.113.9").get("/metrics")
    spoofed = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1").get(
        "/metrics"
    )

    assert local.status_code == 200
    assert b"django_http_requests_total_by_method_total" in local.content
    assert in_network.status_code == 200
    assert outside.status_code == 404
    assert spoofed.status_code == 404  # no trusted proxy: the header is ignored
