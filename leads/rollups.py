"""The rollups of the leads: status changes, new prospects and leads, durations.

Each is described once as a ``crm.rollups.Rollup``. ``leads.LeadStatusDaily``
and, for the records created as prospects, ``leads.NewProspectDaily``: the
services add one row per status change in its transaction
(``status_changes``, written with the change by ``crm.rollups.insert_with``), a
lead whose owner or channel changes moves its sums (``lead_moving``), bulk
writers add the rows they inserted (``add_ledger_rows``).
``leads.NewLeadDaily``: a lead is counted when it becomes one and moved when
its channel, source or offer changes (``lead_changes``, written with the
status change that made it a lead, or ``lead_moved``).
``leads.LeadDurationDaily`` and ``LeadDurationMonthly``: a lead's time to
qualify and response time, counted the same way from the locked lead when
it is qualified, answered, moved or deleted (``lead_changes``, ``lead_moved``;
``pipeline.activities`` for a first answer). ``verify_rollups`` recomputes
all of them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models
from django.db.models import Count, DateField, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.db.models.lookups import Exact
from django.utils import timezone

from crm import rollups
from crm.durations import (
    DurationMicroseconds,
    bucket_of,
    bucket_start,
    bucket_start_microseconds,
)
from leads.models import (
    Channel,
    DurationMeasure,
    Lead,
    LeadDurationDaily,
    LeadDurationMonthly,
    LeadStatus,
    LeadStatusChange,
    LeadStatusDaily,
    NewLeadDaily,
    NewProspectDaily,
)


# A moment's day and month in the CRM's time zone, as the KPIs' periods count.
def _local_day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_default_timezone())


def _local_month(field: str) -> TruncMonth:
    return TruncMonth(
        field, tzinfo=timezone.get_default_timezone(), output_field=DateField()
    )


def _status_values(ledger: type[models.Model]) -> QuerySet:
    """The status history grouped as the rollup (its key, then its sums)."""
    return (
        ledger._default_manager.order_by()
        .annotate(day=_local_day("changed_at"))
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


def _new_prospect_values(ledger: type[models.Model]) -> QuerySet:
    """The records' first status rows as prospects, grouped as their rollup."""
    return (
        ledger._default_manager.order_by()
        .filter(from_status="", to_status=LeadStatus.PROSPECT)
        .annotate(day=_local_day("changed_at"))
        .values("day", "lead__channel")
        .annotate(n=Count("pk"))
        .values_list("day", "lead__channel", "n")
    )


NEW_PROSPECTS = rollups.Rollup(
    name="Records created as prospects per day and channel (leads.NewProspectDaily)",
    model=NewProspectDaily,
    key=("day", "channel"),
    sums=("prospects",),
    parts=(
        rollups.Part(
            ledger=LeadStatusChange, source=_new_prospect_values, record="lead_id"
        ),
    ),
)

# What bulk writers of status rows add or rebuild.
STATUS_ROLLUPS = (LEAD_STATUS, NEW_PROSPECTS)


def _prospect_rows(status_rows: list[dict]) -> list[dict]:
    """The new-prospect rollup's share of status rollup rows: the records
    created as prospects, without their owner."""
    return [
        {"day": row["day"], "channel": row["channel"], "prospects": row["changes"]}
        for row in status_rows
        if row["from_status"] == "" and row["to_status"] == LeadStatus.PROSPECT
    ]


def status_changes(change: LeadStatusChange, lead: Lead) -> rollups.Increments:
    """Return what one new status change of ``lead`` (as it is now) adds:
    its row in the status rollup and, for a record created as a prospect,
    in the new-prospect rollup."""
    rows = [
        {
            "day": timezone.localdate(change.changed_at),
            "owner_id": lead.owner_id,
            "channel": lead.channel,
            "from_status": change.from_status,
            "to_status": change.to_status,
            "changes": 1,
        }
    ]
    return [(LEAD_STATUS, rows), (NEW_PROSPECTS, _prospect_rows(rows))]


def status_add(change: LeadStatusChange, lead: Lead) -> None:
    """Write ``status_changes`` on their own (1 statement each; for a
    history row written apart, as the KPI tests' datasets do)."""
    for rollup, rows in status_changes(change, lead):
        rollups.add(rollup, rows)


# What the rollup's key reads of a lead: a change of one moves its sums.
DIMENSIONS = frozenset({"owner", "channel"})


@contextmanager
def lead_moving(lead_id: int, fields) -> Iterator[None]:
    """Move the lead's sums when the block changes one of its ``DIMENSIONS``.

    Call it with the lead locked: its contributions are read before and after
    the block (2 queries and 1 statement, 2 when the channel changes; none
    when no dimension changes).
    """
    if not DIMENSIONS & set(fields):
        yield
        return
    before = rollups.contributions(LEAD_STATUS, lead_id)
    yield
    _replace(before, rollups.contributions(LEAD_STATUS, lead_id))


def lead_removing(lead_id: int) -> None:
    """Take out the sums of a lead about to be deleted with its history (1+2)."""
    _replace(rollups.contributions(LEAD_STATUS, lead_id), [])


def _replace(before: list[dict], after: list[dict]) -> None:
    """Move a lead's status rows from ``before`` to ``after``, and its count
    as a new prospect with them (a statement each, none when unchanged)."""
    rollups.replace_contributions(LEAD_STATUS, before, after)
    rollups.replace_contributions(
        NEW_PROSPECTS, _prospect_rows(before), _prospect_rows(after)
    )


def status_add_recorded_at(moment) -> None:
    """Add the status rows a bulk writer stamped with ``moment`` (2 statements).

    The CSV import marks all its history rows with its one clock reading.
    """
    for rollup in STATUS_ROLLUPS:
        (part,) = rollup.parts
        rollups.add_ledger_rows(rollup, part, changed_at=moment)


# --- new leads ----------------------------------------------------------------


def _new_lead_values(ledger: type[models.Model]) -> QuerySet:
    """The leads grouped as the new-lead rollup (its key, then its sum)."""
    return (
        ledger._default_manager.order_by()
        .filter(became_lead_at__isnull=False)
        .annotate(
            day=_local_day("became_lead_at"),
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


def new_lead_rows(lead: Lead | None) -> list[dict]:
    """Return what ``lead`` (as it is in memory) adds to the rollup: its row,
    or none."""
    if lead is None or lead.became_lead_at is None:
        return []
    return [
        {
            # The day in the CRM's time zone, as the KPIs' periods and the
            # rebuild (TruncDate) count it, whatever time zone is active.
            "day": timezone.localdate(
                lead.became_lead_at, timezone.get_default_timezone()
            ),
            "channel": lead.channel,
            "source": lead.source,
            "offer_key": lead.offer_id or 0,
            "leads": 1,
        }
    ]


def _moved(rollup: rollups.Rollup, before: list[dict], after: list[dict]) -> list:
    """The rows taking a record's sums in ``rollup`` from ``before`` to ``after``."""
    if before == after:
        return []
    negated = [{**row, **{s: -row[s] for s in rollup.sums}} for row in before]
    return [*negated, *after]


# --- the times to qualify and to answer -------------------------------------------


def _duration_values(measure: str, end: str, when=_local_day, **where):
    """A measure's leads grouped as a duration rollup (its key, then its
    sums), by day or (``when=_local_month``) by month."""
    bucket = {"qualify": "qualify_bucket", "response": "response_bucket"}[measure]
    micros = DurationMicroseconds(end, "became_lead_at")
    on_edge = Exact(micros, bucket_start_microseconds(bucket))

    def values(ledger: type[models.Model]) -> QuerySet:
        return (
            ledger._default_manager.order_by()
            .filter(became_lead_at__isnull=False, **{f"{end}__isnull": False}, **where)
            .annotate(
                when_=when("became_lead_at"),
                measure=Value(measure),
                end_=when(end),
                bucket_=F(bucket),
            )
            .values("when_", "measure", "channel", "bucket_", "end_")
            .annotate(
                n=Count("pk"),
                microseconds=Sum(micros),
                on_edge=Count("pk", filter=on_edge),
            )
            .values_list(
                "when_",
                *("measure", "channel", "bucket_", "end_"),
                *("n", "microseconds", "on_edge"),
            )
        )

    return values


def _duration_parts(when) -> tuple[rollups.Part, ...]:
    """The two measures' leads, grouped by ``when`` (a day or a month)."""
    return (
        rollups.Part(
            ledger=Lead,
            source=_duration_values(DurationMeasure.QUALIFY, "qualified_at", when),
            record="pk",
        ),
        rollups.Part(
            ledger=Lead,
            source=_duration_values(
                DurationMeasure.RESPONSE,
                "first_response_at",
                when,
                channel=Channel.INBOUND,
            ),
            record="pk",
        ),
    )


LEAD_DURATIONS = rollups.Rollup(
    name="Times to qualify and to answer per day, channel, bucket and end day "
    "(leads.LeadDurationDaily)",
    model=LeadDurationDaily,
    key=("day", "measure", "channel", "bucket", "end_day"),
    sums=("leads", "microseconds", "on_edge"),
    parts=_duration_parts(_local_day),
)

LEAD_DURATION_MONTHS = rollups.Rollup(
    name="The same per month and end month (leads.LeadDurationMonthly)",
    model=LeadDurationMonthly,
    key=("month", "measure", "channel", "bucket", "end_month"),
    sums=("leads", "microseconds", "on_edge"),
    parts=_duration_parts(_local_month),
)

DURATION_ROLLUPS = (LEAD_DURATIONS, LEAD_DURATION_MONTHS)


def _duration_row(lead: Lead, measure: str, end) -> dict:
    local = timezone.get_default_timezone()
    # In UTC: two moments of one zone subtract as wall clocks (a DST change
    # between them would be an hour off the database's duration).
    utc = datetime.UTC
    duration = end.astimezone(utc) - lead.became_lead_at.astimezone(utc)
    bucket = bucket_of(duration)
    return {
        "day": timezone.localdate(lead.became_lead_at, local),
        "measure": measure,
        "channel": lead.channel,
        "bucket": bucket,
        "end_day": timezone.localdate(end, local),
        "leads": 1,
        "microseconds": duration // datetime.timedelta(microseconds=1),
        "on_edge": int(duration == bucket_start(bucket)),
    }


def duration_rows(lead: Lead | None) -> list[dict]:
    """Return what ``lead`` (as it is in memory) adds to the duration rollup."""
    if lead is None or lead.became_lead_at is None:
        return []
    rows = []
    if lead.qualified_at is not None:
        rows.append(_duration_row(lead, DurationMeasure.QUALIFY, lead.qualified_at))
    if lead.channel == Channel.INBOUND and lead.first_response_at is not None:
        rows.append(
            _duration_row(lead, DurationMeasure.RESPONSE, lead.first_response_at)
        )
    return rows


# --- what a lead counts under, moved with its change ------------------------------

# A lead's rows in the rollups whose ledger is the lead itself.
Counted = dict[rollups.Rollup, list[dict]]


def counted(lead: Lead | None) -> Counted:
    """Return what ``lead`` (as it is in memory; None: nothing) counts under."""
    days = duration_rows(lead)
    months = [
        {
            "month": row.pop("day").replace(day=1),
            "end_month": row.pop("end_day").replace(day=1),
            **row,
        }
        for row in map(dict, days)
    ]
    return {
        NEW_LEADS: new_lead_rows(lead),
        LEAD_DURATIONS: days,
        LEAD_DURATION_MONTHS: months,
    }


def lead_changes(before: Counted | None, lead: Lead | None) -> rollups.Increments:
    """Return the (rollup, rows) moving a lead from ``before`` (``counted`` of
    it before the change, None for a new record) to what it counts under now
    (``lead=None``: it is deleted)."""
    after = counted(lead)
    before = before or counted(None)
    return [
        (rollup, moved)
        for rollup, rows in after.items()
        if (moved := _moved(rollup, before[rollup], rows))
    ]


def lead_moved(before: Counted | None, lead: Lead | None) -> None:
    """Write ``lead_changes`` in the change's transaction, the lead locked or
    just inserted: 1 statement per rollup whose rows changed, none when
    nothing the lead counts under changed."""
    for rollup, rows in lead_changes(before, lead):
        rollups.add(rollup, rows)


def new_leads_add_became_at(moment) -> None:
    """Add the leads a bulk writer made leads at ``moment`` (1 statement).

    The CSV import stamps the leads it creates and the prospects it raises
    with its one clock reading.
    """
    rollups.add_ledger_rows(NEW_LEADS, NEW_LEADS.parts[0], became_lead_at=moment)


def responses_add_became_at(moment) -> None:
    """Add the response times of the leads a bulk writer made leads at
    ``moment`` (2 statements): the prospects the CSV import raised, which
    an activity logged since may answer (none is qualified yet)."""
    for rollup in DURATION_ROLLUPS:
        _, response = rollup.parts
        rollups.add_ledger_rows(rollup, response, became_lead_at=moment)
