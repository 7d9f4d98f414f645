"""The rules history follows, in one place for the services and for bulk builders.

The services write history one event at a time (``deal_move`` appends a
``StageChange``, ``activity_log`` marks a cold call and updates the lead's
engagement). The demo seed, the benchmark's generator (``bench/generate.py``)
and the test datasets write months of history at once, with bulk inserts or
``COPY``, so they cannot call the services row by row. They describe what
happened (a deal's steps, the activities logged on a person) and ask this
module what the services would have recorded; the services ask it too, so each
rule lives here once:

- ``is_cold_call``: which calls are cold, and ``led_to_lead``: which of them
  won their prospect over;
- ``is_response``: which activities answer a lead (its first one after it
  became a lead is ``Lead.first_response_at``, the response time's end);
- ``engagement_update`` (one activity, in SQL, as the service runs it) and
  ``Engagement`` (many activities, in Python): a lead's activity counters;
- ``deal_history``: the ``StageChange`` rows of a deal's steps, the moves
  checked against ``ALLOWED_MOVES``/``WIN_FROM``, and the deal fields that
  follow from them; ``deeper``: the deepest stage a deal has reached
  (``Deal.deepest_stage``, which the funnel counts).

Nothing here touches the database: times may be datetimes or, for the
benchmark's compact arrays, plain numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce, Greatest, Least

from leads.models import LeadStatus
from pipeline.models import (
    ALLOWED_MOVES,
    COLD_CALL_TO_LEAD_WINDOW,
    STAGE_INDEX,
    TOUCH_KINDS,
    WIN_FROM,
    ActivityKind,
    DealStatus,
    Direction,
    Stage,
)

# --- cold calls -------------------------------------------------------------------


def is_cold_call(
    *,
    kind: str,
    direction: str,
    lead_status: str | None,
    came_inbound: bool | Callable[[], bool],
) -> bool:
    """Return whether a call is cold: outbound, to a prospect never inbound.

    ``lead_status`` is the called person's status when the call is logged
    (None: no lead). ``came_inbound`` says whether they have an inbound touch
    by then; a function is called only when the rest of the rule holds (the
    service's query).
    """
    if not (
        kind == ActivityKind.CALL
        and direction == Direction.OUTBOUND
        and lead_status == LeadStatus.PROSPECT
    ):
        return False
    return not (came_inbound() if callable(came_inbound) else came_inbound)


def led_to_lead(call_at: Any, *, became_lead_at: Any | None) -> bool:
    """Return whether a cold call at ``call_at`` won its prospect over.

    They became a lead at most ``COLD_CALL_TO_LEAD_WINDOW`` after it (the rule
    of ``ActivityQuerySet.won_over_by``, which the promotions apply).
    """
    return (
        became_lead_at is not None
        and call_at <= became_lead_at <= call_at + COLD_CALL_TO_LEAD_WINDOW
    )


def status_at(moment: Any, *, became_lead_at: Any | None) -> LeadStatus:
    """Return whether a person was a prospect or a lead at ``moment``.

    Only the difference the cold-call rule reads: a later qualification,
    disqualification or conversion happens after becoming a lead.
    """
    if became_lead_at is None or moment < became_lead_at:
        return LeadStatus.PROSPECT
    return LeadStatus.LEAD


# --- a lead's engagement --------------------------------------------------------


def is_response(*, kind: str, direction: str) -> bool:
    """Return whether a done activity answers its lead (docs/metrics.md).

    A call, an e-mail or a meeting by a user (outbound); never a note, never
    the lead's own inbound messages. ``ActivityQuerySet.responses`` is the
    same rule as a filter.
    """
    return direction == Direction.OUTBOUND and kind in TOUCH_KINDS


def engagement_update(occurred_at: Any, *, kind: str, direction: str) -> dict[str, Any]:
    """Return the lead's column updates for one more activity at ``occurred_at``.

    In SQL, so that concurrent loggers cannot lose a count. The first activity
    time is the earliest, even for a backdated activity. A response counts
    only at or after the moment the person became a lead (a prospect's calls
    do not answer a lead; ``lead_promote`` recomputes the column), read in
    the same statement.
    """
    moment = Value(occurred_at)
    updates = {
        "activity_count": F("activity_count") + 1,
        "first_activity_at": Least(Coalesce("first_activity_at", moment), moment),
        "last_activity_at": Greatest(Coalesce("last_activity_at", moment), moment),
    }
    if is_response(kind=kind, direction=direction):
        updates["first_response_at"] = Case(
            When(
                became_lead_at__lte=moment,
                then=Least(Coalesce("first_response_at", moment), moment),
            ),
            default=F("first_response_at"),
        )
    return updates


@dataclass
class Engagement:
    """A lead's counters after many activities (``engagement_update``, folded)."""

    activity_count: int = 0
    first_activity_at: Any = None
    last_activity_at: Any = None
    first_response_at: Any = None

    @classmethod
    def of(cls, times: Iterable[Any]) -> Engagement:
        engagement = cls()
        for moment in times:
            engagement.log(moment)
        return engagement

    def log(
        self, occurred_at: Any, *, responds: bool = False, became_lead_at: Any = None
    ) -> None:
        """Count one activity; ``responds``: it ``is_response`` (then it needs
        the lead's ``became_lead_at``, None for a prospect)."""
        self.activity_count += 1
        if self.first_activity_at is None or occurred_at < self.first_activity_at:
            self.first_activity_at = occurred_at
        if self.last_activity_at is None or occurred_at > self.last_activity_at:
            self.last_activity_at = occurred_at
        if (
            responds
            and became_lead_at is not None
            and occurred_at >= became_lead_at
            and (self.first_response_at is None or occurred_at < self.first_response_at)
        ):
            self.first_response_at = occurred_at


# --- a deal's stage history -------------------------------------------------------


class Step(NamedTuple):
    """Where a deal is after one event (its creation, a move, a win...)."""

    stage: str
    status: str
    at: Any
    by: Any = None


class Change(NamedTuple):
    """The ``StageChange`` row of one step."""

    from_stage: str
    to_stage: str
    from_status: str
    to_status: str
    changed_at: Any
    changed_by: Any


def deeper(*stages: str) -> str:
    """Return the deepest of ``stages`` (in the funnel's order).

    ``Deal.deepest_stage`` only ever goes down the funnel: a deal moved back
    or reopened into an earlier stage keeps the depth it had reached.
    """
    return max(stages, key=STAGE_INDEX.__getitem__)


@dataclass(frozen=True)
class DealHistory:
    """A deal's history rows and the fields of the deal that follow from them."""

    changes: tuple[Change, ...]
    created_at: Any
    stage: str
    status: str
    closed_at: Any
    stage_entered_at: Any
    deepest_stage: str
    # deal_create saves version 1 and every transition adds one.
    version: int


def deal_history(steps: Sequence[Step]) -> DealHistory:
    """Return the history the services write for ``steps``, or raise ValueError.

    The first step is the creation (open, in any stage). Each next step is a
    move between open stages (``ALLOWED_MOVES``), a win from ``WIN_FROM``, a
    loss from any stage, or the reopening of a closed deal into any stage, no
    earlier than the step before it.
    """
    if not steps or steps[0].status != DealStatus.OPEN:
        raise ValueError("A deal's history starts with its creation, open.")
    first = steps[0]
    changes = [Change("", first.stage, "", first.status, first.at, first.by)]
    entered, closed = first.at, None
    deepest = first.stage
    previous = first
    for step in steps[1:]:
        _check(previous, step)
        changes.append(
            Change(
                previous.stage,
                step.stage,
                previous.status,
                step.status,
                step.at,
                step.by,
            )
        )
        deepest = deeper(deepest, step.stage)
        if step.status == DealStatus.OPEN:
            entered, closed = step.at, None
        else:
            closed = step.at
        previous = step
    return DealHistory(
        changes=tuple(changes),
        created_at=first.at,
        stage=previous.stage,
        status=previous.status,
        closed_at=closed,
        stage_entered_at=entered,
        deepest_stage=deepest,
        version=len(steps),
    )


def _check(previous: Step, step: Step) -> None:
    if step.at < previous.at:
        raise ValueError(f"Steps go back in time: {previous} then {step}.")
    if previous.status == DealStatus.OPEN:
        if step.status == DealStatus.OPEN:
            allowed = step.stage in ALLOWED_MOVES[Stage(previous.stage)]
        elif step.status == DealStatus.WON:
            allowed = step.stage == previous.stage and step.stage in WIN_FROM
        else:
            allowed = step.stage == previous.stage  # lost from any stage
    else:
        allowed = step.status == DealStatus.OPEN  # only reopening
    if not allowed:
        raise ValueError(f"The services refuse {previous} -> {step}.")
