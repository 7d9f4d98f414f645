"""Models of the core app: people and customers (``core``), and what integrations
need (``integrations``: idempotency keys, webhooks and their outbox)."""

from crm.models.core import (
    Company,
    Contact,
    Role,
    ScopedQuerySet,
    Subscription,
    Team,
    TimeStamped,
    User,
    Versioned,
    default_currency,
)
from crm.models.integrations import (
    DeliveryAttempt,
    IdempotencyKey,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

__all__ = [
    "Company",
    "Contact",
    "DeliveryAttempt",
    "IdempotencyKey",
    "OutboxEvent",
    "Role",
    "ScopedQuerySet",
    "Subscription",
    "Team",
    "TimeStamped",
    "User",
    "Versioned",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEventType",
    "default_currency",
]
