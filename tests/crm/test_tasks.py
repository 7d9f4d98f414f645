"""The periodic jobs beat schedules: webhook delivery and the purges."""

import datetime
import logging.config

import pytest
from celery import current_app
from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken

from crm import tasks
from crm.models import IdempotencyKey, WebhookDelivery
from tests.crm.test_webhooks import Receiver, _end_subscription, _endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def test_every_scheduled_job_exists():
    current_app.loader.import_default_modules()  # autodiscovery, as a worker does
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert scheduled <= set(current_app.tasks)
    assert "crm.tasks.deliver_webhooks" in scheduled


def test_the_delivery_job_sends_due_webhooks_once_even_if_run_twice(rep):
    receiver = Receiver()
    try:
        _endpoint(receiver.url)
        _end_subscription(rep)

        first = tasks.deliver_webhooks.apply().get()
        second = tasks.deliver_webhooks.apply().get()  # the next beat tick

        assert (first, second) == (1, 0)
        assert len(receiver.requests) == 1
        assert WebhookDelivery.objects.get().status == "delivered"
    finally:
        receiver.close()


def test_purges_delete_only_what_has_expired(rep):
    now = timezone.now()
    old = IdempotencyKey.objects.create(
        key="old",
        caller="user:1",
        fingerprint="x",
        created_at=now - datetime.timedelta(days=2),
    )
    IdempotencyKey.objects.create(key="new", caller="user:1", fingerprint="x")
    expired, _ = AuthToken.objects.create(user=rep, expiry=datetime.timedelta(days=-1))
    AuthToken.objects.create(user=rep)

    assert tasks.purge_idempotency_keys.apply().get() == 1
    assert tasks.purge_expired_tokens.apply().get() == 1
    assert not IdempotencyKey.objects.filter(pk=old.pk).exists()
    assert list(AuthToken.objects.values_list("pk", flat=True)) != [expired.pk]
    assert AuthToken.objects.count() == 1


def test_celery_logs_through_djangos_configuration(monkeypatch):
    # Celery configures its own logging (text lines) unless a receiver of
    # setup_logging does: the worker's and beat's lines must be the app's JSON.
    from celery.app.log import Logging

    configured = []
    monkeypatch.setattr(Logging, "_setup", False)
    monkeypatch.setattr(logging.config, "dictConfig", configured.append)
    for name in ("_MP_FORK_LOGLEVEL_", "_MP_FORK_LOGFILE_", "_MP_FORK_LOGFORMAT_"):
        monkeypatch.setenv(name, "")

    current_app.log.setup_logging_subsystem(loglevel="INFO")

    assert configured == [settings.LOGGING]
