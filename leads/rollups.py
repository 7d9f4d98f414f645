"""The daily rollups of the leads: status changes and new leads.

Each is described once as a ``crm.rollups.Rollup``. ``leads.LeadStatusDaily``:
the services add one row per status change in its transaction
(``status_rows``, written with the change by ``crm.rollups.insert_with``), a
lead whose owner or channel changes moves its sums (``lead_moving``), bulk
writers add the rows they inserted (``add_ledger_rows``).
``leads.NewLeadDaily``: a lead is counted when it becomes one and moved when
its channel, source or offer changes (``new_lead_changes``, written with the
status change that made it a lead, or ``new_lead_moved``). ``verify_rollups``
recomputes both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models
from django.db.models import Count, QuerySet, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from crm import rollups
from leads.models import Lead, LeadStatusChange, LeadStatusDaily, NewLeadDaily


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


def status_rows(change: LeadStatusChange, lead: Lead) -> list[dict]:
    """Return what one new status change of ``lead`` (as it is now) adds."""
    return [
        {
            "day": timezone.localdate(change.changed_at),
            "owner_id": lead.owner_id,
            "channel": lead.channel,
            "from_status": change.from_status,
            "to_status": change.to_status,
            "changes": 1,
        }
    ]


def status_add(change: LeadStatusChange, lead: Lead) -> None:
    """Write ``status_rows`` on their own (1 statement; for a history row
    written apart, as the KPI tests' datasets do)."""
    rollups.add(LEAD_STATUS, status_rows(change, lead))


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


# --- new leads ----------------------------------------------------------------


def _new_lead_values(ledger: type[models.Model]) -> QuerySet:
    """The leads grouped as the new-lead rollup (its key, then its sum)."""
    return (
        ledger._default_manager.order_by()
        .filter(became_lead_at__isnull=False)
        .annotate(
            day=TruncDate("became_lead_at", tzinfo=timezone.get_default_timezone()),
            offer_key=Coalesce("offer_id", Value(0)),
        )
        .values("day", "channel", "source", "offer_key")
        .annotate(n=Count("pk"))
        .values_list("day", "channel", "source", "offer_key", "n")
    )


NEW_LEADS = rollups.Rollup(
    name="New leads per day, channel, source and offer (leads.NewLeadDaily)",
    model=NewLeadDaily,
    key=("day", "channel", "source", "offer_key"),
    sums=("leads",),
    parts=(rollups.Part(ledger=Lead, source=_new_lead_values, record="pk"),),
)


def new_lead_row(lead: Lead | None) -> dict | None:
    """Return what ``lead`` (as it is in memory) adds to the rollup, if anything."""
    if lead is None or lead.became_lead_at is None:
        return None
    return {
        # The day in the CRM's time zone, as the KPIs' periods and the
        # rebuild (TruncDate) count it, whatever time zone is active.
        "day": timezone.localdate(lead.became_lead_at, timezone.get_default_timezone()),
        "channel": lead.channel,
        "source": lead.source,
        "offer_key": lead.offer_id or 0,
        "leads": 1,
    }


def new_lead_changes(before: dict | None, lead: Lead | None) -> list[dict]:
    """Return the rows moving a lead's count from ``before`` (``new_lead_row``
    of it before the change, None for a new record) to where it counts now
    (``lead=None``: it is deleted); none when nothing it counts under changed."""
    after = new_lead_row(lead)
    if before == after:
        return []
    negated = [{**before, "leads": -before["leads"]}] if before else []
    return [*negated, *([after] if after else [])]


def new_lead_moved(before: dict | None, lead: Lead | None) -> None:
    """Write ``new_lead_changes`` in the change's transaction, the lead locked
    or just inserted: 1 statement, none when nothing it counts under changed."""
    rollups.add(NEW_LEADS, new_lead_changes(before, lead))


def new_leads_add_became_at(moment) -> None:
    """Add the leads a bulk writer made leads at ``moment`` (1 statement).

    The CSV import stamps the leads it creates and the prospects it raises
    with its one clock reading.
    """
    rollups.add_ledger_rows(NEW_LEADS, NEW_LEADS.parts[0], became_lead_at=moment)
