"""The dashboard's data version: a key that moves whenever a KPI figure may move.

The dashboard caches its report and its charts under this version, and the
charts' ``ETag`` is derived from it, so a figure is never served stale.

It is read from the append-only ledgers the KPIs are computed from (status
changes, stage changes, activities, touches, qualifications, MRR movements),
plus ``DataChange``, the ledger of in-place edits (a deal's amount, a lead's
owner, a rep's team, a target...). Every write appends to one of them in its
own transaction, so the version moves atomically with the change, and no
counter row is shared by every write (a counter would serialize them all).

Per table it reads the highest id and the number of rows among the last
``WINDOW`` ids: ids are handed out when a row is inserted, not when it commits,
so a transaction that commits after a later one adds a row below the highest
id; the count still moves. One query, each part an index range on the primary
key.
"""

from __future__ import annotations

import hashlib

from django.db import connection, models
from django.db.models.signals import post_delete, post_save

from crm.models import Company, MrrMovement, Subscription, Team, User
from leads.models import Lead, LeadStatusChange, Qualification, Touch
from metrics.models import DataChange, KpiTarget
from pipeline.models import Activity, Deal, StageChange, StageSetting

# Ids a transaction may have taken before it commits, behind later ones.
WINDOW = 1000

LEDGERS: tuple[type[models.Model], ...] = (
    LeadStatusChange,
    Touch,
    Qualification,
    StageChange,
    Activity,
    MrrMovement,
    DataChange,
)

# Records edited in place and the fields of theirs that a KPI or its segment
# reads; None: any field (small tables, rarely edited). A new Lead, Deal or
# Activity needs no DataChange: its first ledger row comes in the same
# transaction (a status change, a stage change, the activity itself); nor does
# a new company, which counts nowhere before its first subscription.
WATCHED: dict[type[models.Model], frozenset[str] | None] = {
    Lead: frozenset({"owner", "owner_id", "channel", "source", "created_at"}),
    # Its own probability weighs the open pipeline.
    Deal: frozenset(
        {
            "owner",
            "owner_id",
            "channel",
            "amount",
            "currency",
            "probability",
            "created_at",
        }
    ),
    Activity: frozenset(
        {"done", "occurred_at", "is_cold_call", "owner", "owner_id", "kind"}
    ),
    Company: frozenset({"owner", "owner_id"}),
    Subscription: None,
    User: frozenset({"team", "team_id", "role", "is_active", "is_superuser"}),
    Team: frozenset({"manager", "manager_id"}),
    StageSetting: None,
    KpiTarget: None,
}
CREATED_WITHOUT_EFFECT = (Lead, Deal, Activity, Company)


def _version_sql() -> str:
    quote = connection.ops.quote_name
    parts = []
    for model in LEDGERS:
        table = quote(model._meta.db_table)
        # Table names come from the models, the window is a constant.
        highest = f"SELECT COALESCE(MAX(id), 0) FROM {table}"  # noqa: S608  # nosec B608
        # The ids above highest - WINDOW are among the last WINDOW ids: the
        # LIMIT tells the planner so. Without it PostgreSQL expected a third
        # of the table and started parallel workers for each count (50 ms).
        last = f"SELECT id FROM {table} ORDER BY id DESC LIMIT {WINDOW}"  # noqa: S608  # nosec B608
        recent = (
            f"SELECT COUNT(*) FROM ({last}) AS last "  # noqa: S608  # nosec B608
            f"WHERE id > ({highest}) - {WINDOW}"
        )
        parts += [f"({highest})", f"({recent})"]
    return "SELECT " + ", ".join(parts)


def data_version() -> str:
    """Return the current data version (1 query)."""
    with connection.cursor() as cursor:
        cursor.execute(_version_sql())
        row = cursor.fetchone()
    text = ".".join("-" if value is None else str(value) for value in row)
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def record_change(instance: models.Model) -> None:
    """Append a DataChange for ``instance`` in the current transaction."""
    DataChange.objects.create(
        model=instance._meta.label_lower, object_id=str(instance.pk)
    )


def _on_save(sender, instance, created, update_fields=None, raw=False, **kwargs):
    if raw:  # loaddata: no domain change
        return
    if created:
        if not isinstance(instance, CREATED_WITHOUT_EFFECT):
            record_change(instance)
        return
    fields = WATCHED[sender]
    if fields is None or update_fields is None or fields & set(update_fields):
        record_change(instance)


def _on_delete(sender, instance, **kwargs):
    # Django deletes (and cascades) in one transaction; the row joins it.
    record_change(instance)


def connect() -> None:
    """Record in-place edits of the watched models (called once, at start)."""
    for model in WATCHED:
        post_save.connect(_on_save, sender=model, dispatch_uid=f"dv-save-{model}")
        post_delete.connect(_on_delete, sender=model, dispatch_uid=f"dv-delete-{model}")
