"""Webhooks through a transactional outbox.

``emit`` is called by services inside the transaction of the change it reports:
the event commits or rolls back with that change, so nothing is sent for a
rolled-back change and nothing is lost if the process dies after the commit.
``deliver_due`` (the ``deliver_webhooks`` worker) fans events out to the
subscribed endpoints, sends what is due, signed with HMAC-SHA256, and retries
failures with exponential backoff for 24 hours. Sending follows the egress rules
of ``crm.egress`` (public addresses only, no redirects, fixed error classes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm import egress
from crm.models import (
    DeliveryAttempt,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from crm.models.integrations import DeliveryStatus

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-CRM-Signature"
RETRY_WINDOW = timedelta(hours=24)
FAILING_AFTER = 5  # consecutive failed attempts before an endpoint is flagged
CLAIM_LEASE = timedelta(minutes=2)
TIMEOUT_SECONDS = 10


def emit(event_type: str, payload: dict) -> OutboxEvent:
    """Record an event; call it inside the transaction of the change it reports.

    One INSERT: the worker decides which endpoints receive it (``fan_out``), so
    the writes that emit events do not pay for the webhook configuration.
    """
    recorded = event(event_type, payload)
    recorded.save()
    return recorded


def event(event_type: str, payload: dict) -> OutboxEvent:
    """Return the event unsaved, for a change that inserts it in the statement
    of its history row (``crm.rollups.insert_with``)."""
    return OutboxEvent(
        event_type=event_type,
        payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
    )


def fan_out(*, batch: int = 200) -> int:
    """Turn undispatched events into one delivery per subscribed endpoint."""
    now = timezone.now()
    with transaction.atomic():
        pending = OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        events = list(pending[:batch])
        if not events:
            return 0
        # Endpoints are a handful of configuration rows; their event lists are
        # JSON, which SQLite cannot search by containment, so they are matched here.
        endpoints = list(WebhookEndpoint.objects.filter(active=True))
        WebhookDelivery.objects.bulk_create(
            (
                WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now)
                for event in events
                for endpoint in endpoints
                # An endpoint receives what happened after it was registered,
                # not the history that preceded it.
                if event.event_type in endpoint.events
                and event.created_at >= endpoint.created_at
            ),
            # The unique (event, endpoint) pair makes a concurrent fan-out harmless.
            ignore_conflicts=True,
        )
        OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            dispatched_at=now
        )
    return len(events)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()


def sign(secret: str | list[str], timestamp: int, body: bytes) -> str:
    """Return the signature header value for a body sent at ``timestamp``.

    With several secrets (a rotation's grace period) the header carries one
    ``v1`` per secret: a receiver holding either of them can verify it.
    """
    secrets = [secret] if isinstance(secret, str) else secret
    digests = ",".join(f"v1={_digest(key, timestamp, body)}" for key in secrets)
    return f"t={timestamp},{digests}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """Check a signature header the way a receiver should (see docs/api.md)."""
    try:
        items = [item.split("=", 1) for item in header.split(",")]
        timestamp = int(dict(items)["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    return any(
        hmac.compare_digest(expected, value) for key, value in items if key == "v1"
    )


def backoff(attempts: int) -> timedelta:
    """Return the wait after ``attempts`` failures: 30 s, 1 min, 2 min… up to 1 h."""
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(hours=1))


def claim_due(*, batch: int = 20, now: datetime | None = None) -> list[WebhookDelivery]:
    """Claim up to ``batch`` due deliveries for this worker, skipping others' claims.

    On PostgreSQL the candidate rows are locked with SKIP LOCKED, so concurrent
    workers pick different rows without waiting; the conditional UPDATE makes the
    claim exclusive on every database.
    """
    now = now or timezone.now()
    token = uuid.uuid4()
    unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            unclaimed,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now,
            # A deactivated endpoint gets nothing, not even what was queued.
            endpoint__active=True,
        ).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:batch])
        WebhookDelivery.objects.filter(unclaimed, pk__in=ids).update(
            claimed_by=token, claimed_until=now + CLAIM_LEASE
        )
    return list(
        WebhookDelivery.objects.filter(claimed_by=token).select_related(
            "event", "endpoint"
        )
    )


def deliver(delivery: WebhookDelivery) -> bool:
    """Send one delivery, record the attempt, and schedule a retry on failure."""
    event, endpoint = delivery.event, delivery.endpoint
    body = json.dumps(
        {
            "id": str(event.pk),
            "type": event.event_type,
            "created_at": event.created_at.isoformat(),
            "data": event.payload,
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "sales-crm-webhooks/1",
        "X-CRM-Event": event.event_type,
        "X-CRM-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(
            endpoint.signing_secrets(timezone.now()), int(time.time()), body
        ),
    }
    status_code, error = None, ""
    started = time.monotonic()
    try:
        status_code = egress.post(endpoint.url, body, headers, timeout=TIMEOUT_SECONDS)
    except egress.DeliveryFailed as exc:
        error = exc.error.value
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    _record(
        delivery, ok=ok, status_code=status_code, error=error, duration_ms=duration_ms
    )
    return ok


def _record(delivery, *, ok: bool, status_code, error: str, duration_ms: int) -> None:
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error,
        )
        delivery.attempts += 1
        delivery.claimed_by = None
        delivery.claimed_until = None
        endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = now
            endpoints.update(consecutive_failures=0, failing_since=None)
        else:
            if now - delivery.event.created_at >= RETRY_WINDOW:
                delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            endpoints.update(consecutive_failures=F("consecutive_failures") + 1)
            endpoints.filter(
                failing_since__isnull=True, consecutive_failures__gte=FAILING_AFTER
            ).update(failing_since=now)
        delivery.save(
            update_fields=[
                "attempts",
                "status",
                "delivered_at",
                "next_attempt_at",
                "claimed_by",
                "claimed_until",
            ]
        )


def deliver_due(*, batch: int = 20) -> int:
    """Fan out new events, then claim and send what is due; return the attempts."""
    fan_out()
    deliveries = claim_due(batch=batch)
    for delivery in deliveries:
        deliver(delivery)
    return len(deliveries)
