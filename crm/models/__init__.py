"""Models of the core app: people and customers (``core``), and what integrations
need (``integrations``: idempotency keys, webhooks and their outbox), the MRR
movement ledger (``revenue``) and the jobs a request starts (``jobs``: CSV
exports, bulk admin actions)."""

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
from crm.models.jobs import (
    ActionJob,
    ActionStatus,
    ExportJob,
    ExportSource,
    ExportStatus,
    Job,
)
from crm.models.revenue import (
    EVERYONE,
    CustomerChange,
    CustomerDaily,
    CustomerMonthly,
    CustomerSpell,
    MovementKind,
    MrrDaily,
    MrrMonthly,
    MrrMovement,
)

__all__ = [
    "EVERYONE",
    "ActionJob",
    "ActionStatus",
    "AppendOnly",
    "Company",
    "Contact",
    "CustomerChange",
    "CustomerDaily",
    "CustomerMonthly",
    "CustomerSpell",
    "DeliveryAttempt",
    "ExportJob",
    "ExportSource",
    "ExportStatus",
    "IdempotencyKey",
    "Job",
    "MovementKind",
    "MrrDaily",
    "MrrMonthly",
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
