"""What integrations rely on: idempotent retries and webhooks through an outbox."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.models.core import TimeStamped, User, Versioned


class IdempotencyKey(models.Model):
    """The stored outcome of one POST made with an ``Idempotency-Key`` header."""

    key = models.CharField(max_length=255)
    # "user:<id>" for authenticated callers, "anon:<address>" for the public form.
    caller = models.CharField(max_length=80)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of method, path, body"
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(blank=True, default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Headers of the stored response that a replay repeats (ETag, Location).
    headers = models.JSONField(default=dict, blank=True)
    # While a request runs it holds the key: ``claim`` names that request and
    # ``lease_until`` says when it is presumed dead and a retry may take over.
    claim = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["caller", "key"], name="idempotency_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"


class WebhookEventType(models.TextChoices):
    LEAD_CREATED = "lead.created"
    LEAD_QUALIFIED = "lead.qualified"
    LEAD_CONVERTED = "lead.converted"
    DEAL_CREATED = "deal.created"
    DEAL_STAGE_CHANGED = "deal.stage_changed"
    DEAL_WON = "deal.won"
    DEAL_LOST = "deal.lost"
    SUBSCRIPTION_ENDED = "subscription.ended"


class WebhookEndpoint(Versioned, TimeStamped):
    """An integration's subscription to events, delivered to its URL and signed."""

    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=128, help_text="Key of the HMAC-SHA256 signature"
    )
    # After a rotation the old key keeps signing too until this moment, so the
    # receiver can switch without losing a delivery (crm.services).
    previous_secret = models.CharField(max_length=128, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    events = models.JSONField(default=list, help_text="Event types to receive")
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.url

    @property
    def is_failing(self) -> bool:
        return self.failing_since is not None

    def signing_secrets(self, now) -> list[str]:
        """Return the keys that sign a delivery at ``now``, newest first."""
        keys = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            keys.append(self.previous_secret)
        return keys

    def clean(self) -> None:
        from crm.egress import validate_destination  # egress imports this module

        super().clean()
        if self.url:
            try:
                validate_destination(self.url)
            except ValidationError as exc:
                raise ValidationError({"url": exc.messages}) from exc


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change that caused it.

    The write path only inserts this row; the worker fans it out into one
    delivery per subscribed endpoint and sets ``dispatched_at``.
    """

    event_type = models.CharField(max_length=32, choices=WebhookEventType.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The worker's poll for events not yet fanned out.
            models.Index(
                fields=["id"],
                condition=Q(dispatched_at__isnull=True),
                name="outbox_undispatched",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event to send to one endpoint, retried with backoff until it succeeds."""

    event = models.ForeignKey(
        OutboxEvent, on_delete=models.CASCADE, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker's claim: rows claimed by a live worker are skipped by the others.
    claimed_by = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # An event goes to an endpoint once, whatever the workers do.
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="delivery_once_per_endpoint"
            ),
        ]
        indexes = [
            # The worker's poll: pending deliveries due now.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint}"


class DeliveryError(models.TextChoices):
    """Why an attempt got no HTTP status: a fixed class, never raw error text."""

    DNS = "dns", "The host name did not resolve"
    BLOCKED = "blocked", "The address is not public"
    TIMEOUT = "timeout", "No answer in time"
    REFUSED = "refused", "Connection refused"
    TLS = "tls", "TLS handshake or certificate failed"
    CONNECTION = "connection", "Connection failed"


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery, kept for the integrator to debug."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    # A class, never the socket's text: raw errors ("Connection refused",
    # resolver messages) would make the attempts log a scanner of our network.
    error = models.CharField(max_length=16, choices=DeliveryError.choices, blank=True)

    class Meta:
        ordering = ["-attempted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(error__in=["", *DeliveryError.values]),
                name="delivery_attempt_error_class",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.status_code or self.error[:40]}"
