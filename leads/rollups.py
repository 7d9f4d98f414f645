"""The daily rollup of the lead status history (``leads.LeadStatusDaily``).

Described once as a ``crm.rollups.Rollup``: the services add one row per
status change in its transaction (``status_add``), a lead whose owner or
channel changes moves its sums (``lead_moving``), bulk writers add the rows
they inserted (``add_ledger_rows``), and ``verify_rollups`` recomputes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm import rollups
from leads.models import Lead, LeadStatusChange, LeadStatusDaily


def _status_values(ledger: type[models.Model]) -> QuerySet:
    """The status history grouped as the rollup (its key, then its sums)."""
    return (
        ledger._default_manager.order_by()
        .annotate(day=TruncDate("changed_at", tzinfo=timezone.get_default_timezone()))
        .values("day", "lead__owner", "lead__channel", "from_status", "to_status")
        .annotate(n=Count("pk"))
        .values_list(
            "day", "lead__owner", "lead__channel", "from_status", "to_status", "n"
        )
    )


LEAD_STATUS = rollups.Rollup(
    name="Lead status changes per day, owner, channel and transition "
    "(leads.LeadStatusDaily)",
    model=LeadStatusDaily,
    key=("day", "owner_id", "channel", "from_status", "to_status"),
    sums=("changes",),
    parts=(
        rollups.Part(ledger=LeadStatusChange, source=_status_values, record="lead_id"),
    ),
)


def status_add(change: LeadStatusChange, lead: Lead) -> None:
    """Add one new status change of ``lead`` (as it is now): 1 statement."""
    rollups.add(
        LEAD_STATUS,
        [
            {
                "day": timezone.localdate(change.changed_at),
                "owner_id": lead.owner_id,
                "channel": lead.channel,
                "from_status": change.from_status,
                "to_status": change.to_status,
                "changes": 1,
            }
        ],
    )


# What the rollup's key reads of a lead: a change of one moves its sums.
DIMENSIONS = frozenset({"owner", "channel"})


@contextmanager
def lead_moving(lead_id: int, fields) -> Iterator[None]:
    """Move the lead's sums when the block changes one of its ``DIMENSIONS``.

    Call it with the lead locked: its contributions are read before and after
    the block (2 queries and 1 statement, only when a dimension changes).
    """
    if not DIMENSIONS & set(fields):
        yield
        return
    before = rollups.contributions(LEAD_STATUS, lead_id)
    yield
    rollups.replace_contributions(
        LEAD_STATUS, before, rollups.contributions(LEAD_STATUS, lead_id)
    )


def lead_removing(lead_id: int) -> None:
    """Take out the sums of a lead about to be deleted with its history (1+1)."""
    rollups.replace_contributions(
        LEAD_STATUS, rollups.contributions(LEAD_STATUS, lead_id), []
    )


def status_add_recorded_at(moment) -> None:
    """Add the status rows a bulk writer stamped with ``moment`` (1 statement).

    The CSV import marks all its history rows with its one clock reading.
    """
    rollups.add_ledger_rows(LEAD_STATUS, LEAD_STATUS.parts[0], changed_at=moment)
