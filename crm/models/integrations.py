"""What integrations rely on: idempotent retries and webhooks through an outbox."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.core import TimeStamped, User, Versioned


class IdempotencyKey(models.Model):
    """The stored outcome of one POST made with an ``Idempotency-Key`` header."""

    key = models.CharField(max_length=255, verbose_name=_("key"))
    # "user:<id>" for authenticated callers, "anon:<address>" for the public form.
    caller = models.CharField(max_length=80, verbose_name=_("caller"))
    fingerprint = models.CharField(
        max_length=64,
        help_text=_("SHA-256 of method, path, body"),
        verbose_name=_("fingerprint"),
    )
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("status code")
    )
    response_body = models.BinaryField(
        blank=True, default=b"", verbose_name=_("response body")
    )
    content_type = models.CharField(
        max_length=100, blank=True, verbose_name=_("content type")
    )
    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created at")
    )
    completed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("completed at")
    )
    # Headers of the stored response that a replay repeats (ETag, Location).
    headers = models.JSONField(default=dict, blank=True, verbose_name=_("headers"))
    # While a request runs it holds the key: ``claim`` names that request and
    # ``lease_until`` says when it is presumed dead and a retry may take over.
    claim = models.UUIDField(null=True, blank=True, verbose_name=_("claim"))
    lease_until = models.DateTimeField(
        null=True, blank=True, verbose_name=_("lease until")
    )

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(
                fields=["caller", "key"], name="idempotency_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"


class WebhookEventType(models.TextChoices):
    # The values are the API's contract; the labels are what the admin reads.
    LEAD_CREATED = "lead.created", _("Lead created")
    LEAD_QUALIFIED = "lead.qualified", _("Lead qualified")
    LEAD_CONVERTED = "lead.converted", _("Lead converted")
    DEAL_CREATED = "deal.created", _("Deal created")
    DEAL_STAGE_CHANGED = "deal.stage_changed", _("Deal stage changed")
    DEAL_WON = "deal.won", _("Deal won")
    DEAL_LOST = "deal.lost", _("Deal lost")
    SUBSCRIPTION_ENDED = "subscription.ended", _("Subscription ended")


class WebhookEndpoint(Versioned, TimeStamped):
    """An integration's subscription to events, delivered to its URL and signed."""

    url = models.URLField(max_length=500, verbose_name=_("url"))
    secret = models.CharField(
        max_length=128,
        help_text=_("Key of the HMAC-SHA256 signature"),
        verbose_name=_("secret"),
    )
    # After a rotation the old key keeps signing too until this moment, so the
    # receiver can switch without losing a delivery (crm.services).
    previous_secret = models.CharField(
        max_length=128, blank=True, verbose_name=_("previous secret")
    )
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("previous secret expires at")
    )
    events = models.JSONField(
        default=list, help_text=_("Event types to receive"), verbose_name=_("events")
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    consecutive_failures = models.PositiveIntegerField(
        default=0, verbose_name=_("consecutive failures")
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, verbose_name=_("failing since")
    )
    created_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

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

    event_type = models.CharField(
        max_length=32, choices=WebhookEventType.choices, verbose_name=_("event type")
    )
    payload = models.JSONField(verbose_name=_("payload"))
    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("created at")
    )
    dispatched_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("dispatched at")
    )

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
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
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    """One event to send to one endpoint, retried with backoff until it succeeds."""

    event = models.ForeignKey(
        OutboxEvent,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("event"),
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(
        default=timezone.now, verbose_name=_("next attempt at")
    )
    # A worker's claim: rows claimed by a live worker are skipped by the others.
    claimed_by = models.UUIDField(null=True, blank=True, verbose_name=_("claimed by"))
    claimed_until = models.DateTimeField(
        null=True, blank=True, verbose_name=_("claimed until")
    )
    delivered_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("delivered at")
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
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
        return f"{self.event} → {self.endpoint}"


class DeliveryError(models.TextChoices):
    """Why an attempt got no HTTP status: a fixed class, never raw error text."""

    DNS = "dns", _("The host name did not resolve")
    BLOCKED = "blocked", _("The address is not public")
    TIMEOUT = "timeout", _("No answer in time")
    REFUSED = "refused", _("Connection refused")
    TLS = "tls", _("TLS handshake or certificate failed")
    CONNECTION = "connection", _("Connection failed")


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery, kept for the integrator to debug."""

    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.CASCADE,
        related_name="attempt_log",
        verbose_name=_("delivery"),
    )
    attempted_at = models.DateTimeField(
        default=timezone.now, verbose_name=_("attempted at")
    )
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("status code")
    )
    duration_ms = models.PositiveIntegerField(verbose_name=_("duration ms"))
    # A class, never the socket's text: raw errors ("Connection refused",
    # resolver messages) would make the attempts log a scanner of our network.
    error = models.CharField(
        max_length=16,
        choices=DeliveryError.choices,
        blank=True,
        verbose_name=_("error"),
    )

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["-attempted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(error__in=["", *DeliveryError.values]),
                name="delivery_attempt_error_class",
            ),
        ]

    def __str__(self) -> str:
        result = (
            f"HTTP {self.status_code}" if self.status_code else self.get_error_display()
        )
        return _("Delivery #%(delivery)s: %(result)s") % {
            "delivery": self.delivery_id,
            "result": result,
        }
