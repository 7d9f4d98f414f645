"""Models of the core app: people and customers (``core``), and what integrations
need (``integrations``: idempotency keys, webhooks and their outbox), and the MRR
movement ledger (``revenue``)."""

from crm.models.core import (
    AppendOnly,
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
from crm.models.revenue import MovementKind, MrrDaily, MrrMovement

__all__ = [
    "AppendOnly",
    "Company",
    "Contact",
    "DeliveryAttempt",
    "IdempotencyKey",
    "MovementKind",
    "MrrDaily",
    "MrrMovement",
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
