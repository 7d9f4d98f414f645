"""One timeline per record page: what happened to it and to the records under it.

Each source (touches, activities, qualification decisions, stage changes) is read
by one query, newest first and cut at ``LIMIT``, then merged in Python: a page's
query count does not grow with its history, and the merged list is still the
``LIMIT`` newest events, since no source can contribute more than that.
"""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.models import Decision, LeadStatus, LeadStatusChange, Qualification, Touch
from pipeline.models import Activity, ActivityKind, DealStatus, Stage, StageChange

LIMIT = 50


@dataclass(frozen=True)
class Event:
    at: datetime.datetime
    # A CSS class and a filter word: touch, activity, note, decision, status, stage
    kind: str
    title: str
    detail: str = ""
    by: str = ""
    link: str = ""


def _touches(touches: QuerySet[Touch]) -> Iterable[Event]:
    for touch in touches.select_related("offer").order_by("-occurred_at")[:LIMIT]:
        what = (
            _("Downloaded %(offer)s") % {"offer": touch.offer.title}
            if touch.offer
            else _("Got in touch")
        )
        yield Event(
            at=touch.occurred_at,
            kind="touch",
            title=what,
            detail=f"{touch.get_channel_display()} · {touch.get_source_display()}",
        )


def _activities(activities: QuerySet[Activity]) -> Iterable[Event]:
    # Planned activities have not happened: they are tasks, listed apart.
    rows = (
        activities.filter(done=True)
        .select_related("owner", "deal")
        .order_by("-occurred_at", "-pk")
    )
    for activity in rows[:LIMIT]:
        is_note = activity.kind == ActivityKind.NOTE
        if is_note:
            title = _("Note")
        else:
            title = _("%(kind)s (%(direction)s)") % {
                "kind": activity.get_kind_display(),
                "direction": activity.get_direction_display(),
            }
        if activity.outcome:
            title = _("%(activity)s: %(outcome)s") % {
                "activity": title,
                "outcome": activity.get_outcome_display(),
            }
        if activity.is_cold_call:
            title += " · " + str(_("cold call"))
        yield Event(
            at=activity.occurred_at,
            kind="note" if is_note else "activity",
            title=title,
            detail=activity.notes,
            by=str(activity.owner),
            link=(
                reverse("workspace:deal", args=[activity.deal_id])
                if activity.deal_id
                else ""
            ),
        )


def _decisions(decisions: QuerySet[Qualification]) -> Iterable[Event]:
    rows = decisions.select_related("decided_by").order_by("-decided_at", "-pk")
    for decision in rows[:LIMIT]:
        if decision.decision == Decision.QUALIFIED:
            met = [
                str(Qualification._meta.get_field(name).verbose_name).capitalize()
                for name in ("budget", "authority", "need", "timeline")
                if getattr(decision, name)
            ]
            detail = _("BANT met: %(criteria)s") % {
                "criteria": ", ".join(met) or _("none")
            }
        else:
            detail = decision.get_reason_display()
        if decision.notes:
            detail += f" · {decision.notes}"
        yield Event(
            at=decision.decided_at,
            kind="decision",
            title=_("%(decision)s (score %(score)s)")
            % {"decision": decision.get_decision_display(), "score": decision.score},
            detail=detail,
            by=str(decision.decided_by),
        )


# The status changes no other event tells: a decision and a conversion have
# their own (with their reasons), the others are how the record began or grew.
STATUS_TITLES = {
    ("", LeadStatus.PROSPECT): gettext_lazy("Added as a prospect"),
    ("", LeadStatus.LEAD): gettext_lazy("Arrived as a lead"),
    (LeadStatus.PROSPECT, LeadStatus.LEAD): gettext_lazy("Marked as a lead"),
}


def _status_changes(changes: QuerySet[LeadStatusChange]) -> Iterable[Event]:
    rows = (
        changes.filter(to_status__in=[LeadStatus.PROSPECT, LeadStatus.LEAD])
        .select_related("changed_by")
        .order_by("-changed_at", "-pk")
    )
    for change in rows[:LIMIT]:
        title = STATUS_TITLES.get((change.from_status, change.to_status))
        if title is None:
            title = _("Status: %(status)s") % {"status": change.get_to_status_display()}
        yield Event(
            at=change.changed_at,
            kind="status",
            title=str(title),
            by=str(change.changed_by or ""),
        )


def _stage_changes(changes: QuerySet[StageChange]) -> Iterable[Event]:
    rows = changes.select_related("changed_by", "deal").order_by("-changed_at", "-pk")
    for change in rows[:LIMIT]:
        to_stage = Stage(change.to_stage).label
        if not change.from_stage:
            title = _("Deal created in %(stage)s") % {"stage": to_stage}
        elif change.to_status == DealStatus.WON:
            title = _("Won")
        elif change.to_status == DealStatus.LOST:
            title = _("Lost")
        elif change.from_status != DealStatus.OPEN:
            title = _("Reopened in %(stage)s") % {"stage": to_stage}
        else:
            title = _("Moved from %(from)s to %(to)s") % {
                "from": Stage(change.from_stage).label,
                "to": to_stage,
            }
        yield Event(
            at=change.changed_at,
            kind="stage",
            title=title,
            detail=change.deal.title,
            by=str(change.changed_by or ""),
            link=reverse("workspace:deal", args=[change.deal_id]),
        )


def build(
    *,
    touches: QuerySet[Touch] | None = None,
    activities: QuerySet[Activity] | None = None,
    decisions: QuerySet[Qualification] | None = None,
    status_changes: QuerySet[LeadStatusChange] | None = None,
    stage_changes: QuerySet[StageChange] | None = None,
    extra: Iterable[Event] = (),
) -> list[Event]:
    """Return the ``LIMIT`` newest events of the given sources, newest first."""
    sources: list[Iterable[Event]] = [list(extra)]
    if touches is not None:
        sources.append(_touches(touches))
    if activities is not None:
        sources.append(_activities(activities))
    if decisions is not None:
        sources.append(_decisions(decisions))
    if status_changes is not None:
        sources.append(_status_changes(status_changes))
    if stage_changes is not None:
        sources.append(_stage_changes(stage_changes))
    events = [event for source in sources for event in source]
    return heapq.nlargest(LIMIT, events, key=lambda event: event.at)
