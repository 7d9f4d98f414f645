"""The daily rollups of the stage history (deal closes, the pipeline by stage)
and of the activities (cold calls, the calls that won a prospect over).

Described once each as a ``crm.rollups.Rollup`` (``CLOSES``:
``pipeline.DealCloseDaily``; ``PIPELINE``: ``pipeline.PipelineDaily``;
``PIPELINE_MONTHS``: the same per month and its running total,
``pipeline.PipelineMonthly``, from which the KPIs read the pipeline): the
services add a stage change's rows with it (``change_rows``), a deal
whose owner, channel, currency, amount or probability changes moves its sums
(``deal_moving``), bulk writers rebuild them, and ``verify_rollups``
recomputes them from the history.

A deal without any history row (only the KPI tests' datasets make one: the
services always write the creation row) counts as the KPIs read it, by its
own fields: open in its current stage from its creation to its close, and
closed on ``closed_at``.

The cold calls (``COLD_CALLS``: ``pipeline.ColdCallDaily``) are counted as
each is logged (``cold_call_add``); those that won a prospect over
(``WON_OVER``: ``pipeline.WonOverDaily``) when the prospect becomes a lead
(``won_over_add``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.db import models
from django.db.models import (
    Case,
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, TruncDate, TruncMonth
from django.utils import timezone

from crm import rollups
from pipeline.models import (
    ALL_MONTHS,
    NO_EARLIER_CALL,
    STAGE_INDEX,
    Activity,
    ColdCallDaily,
    Deal,
    DealCloseDaily,
    DealStatus,
    FunnelDaily,
    PipelineDaily,
    PipelineMonthly,
    StageChange,
    WonOverDaily,
)

CLOSED = (DealStatus.WON, DealStatus.LOST)
AMOUNT = DecimalField(max_digits=18, decimal_places=2)
PROBABILITY_AMOUNT = DecimalField(max_digits=20, decimal_places=2)


def _day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_default_timezone())


def _month(field: str) -> TruncMonth:
    """The first day of the moment's month, in the CRM's time zone."""
    return TruncMonth(
        field, tzinfo=timezone.get_default_timezone(), output_field=DateField()
    )


def _all_months(field: str) -> Value:
    """Every moment in one group: the running total (``ALL_MONTHS``)."""
    return Value(ALL_MONTHS, output_field=DateField())


def _without_history(ledger: type[models.Model]) -> QuerySet:
    """Deals with no stage history row (``ledger`` is the deal model)."""
    changes = ledger._meta.get_field("stage_changes").related_model
    return ledger._default_manager.order_by().filter(
        ~Exists(changes._default_manager.filter(deal=OuterRef("pk")))
    )


# --- closes -----------------------------------------------------------------------

CLOSE_KEY = ("day", "owner_id", "channel", "currency", "status", "closed_on")


def _close_values(ledger: type[models.Model], who=rollups.by_owner) -> QuerySet:
    """Wins and losses (+) and their reopenings (-), grouped as the rollup
    (``who``: by the deal's owner, or everyone's together).

    A reopening undoes the close just before it (the deal's previous row by
    time, then id: the order the KPIs read history in).
    """
    closing = Q(to_status__in=CLOSED)
    undone = Subquery(
        ledger._default_manager.filter(deal=OuterRef("deal"))
        .filter(
            Q(changed_at__lt=OuterRef("changed_at"))
            | Q(changed_at=OuterRef("changed_at"), pk__lt=OuterRef("pk"))
        )
        .order_by("-changed_at", "-pk")
        .values("changed_at")[:1],
        output_field=DateTimeField(),
    )
    return (
        ledger._default_manager.order_by()
        .filter(closing | Q(from_status__in=CLOSED))
        .annotate(
            day=_day("changed_at"),
            close_at=Case(
                When(closing, then=F("changed_at")),
                default=undone,
                output_field=DateTimeField(),
            ),
            close_status=Case(
                When(closing, then=F("to_status")), default=F("from_status")
            ),
            sign=Case(When(closing, then=Value(1)), default=Value(-1)),
        )
        .annotate(closed_on=_day("close_at"), who=who("deal__owner"))
        .values(
            "day",
            "who",
            "deal__channel",
            "deal__currency",
            "close_status",
            "closed_on",
        )
        .annotate(
            n=Sum("sign"),
            total=Sum(F("sign") * F("deal__amount"), output_field=AMOUNT),
            cycle_total=Sum(
                Case(
                    When(closing, then=F("changed_at") - F("deal__created_at")),
                    default=F("deal__created_at") - F("close_at"),
                    output_field=DurationField(),
                ),
                output_field=DurationField(),
            ),
        )
        .values_list(
            "day",
            "who",
            "deal__channel",
            "deal__currency",
            "close_status",
            "closed_on",
            "n",
            "total",
            "cycle_total",
        )
    )


def _close_values_without_history(
    ledger: type[models.Model], who=rollups.by_owner
) -> QuerySet:
    """Closed deals without history, on their ``closed_at`` day."""
    return (
        _without_history(ledger)
        .filter(status__in=CLOSED)
        .annotate(day=_day("closed_at"), closed_on=_day("closed_at"), who=who("owner"))
        .values("day", "who", "channel", "currency", "status", "closed_on")
        .annotate(
            n=Count("pk"),
            total=Sum("amount", output_field=AMOUNT),
            cycle_total=Sum(
                F("closed_at") - F("created_at"), output_field=DurationField()
            ),
        )
        .values_list(*CLOSE_KEY[:1], "who", *CLOSE_KEY[2:], "n", "total", "cycle_total")
    )


def _close_parts(who) -> tuple[rollups.Part, ...]:
    """The closes' two ledger queries, grouped by ``who`` (the owner, or
    everyone)."""
    return (
        rollups.Part(
            ledger=StageChange,
            source=lambda ledger: _close_values(ledger, who),
            record="deal_id",
        ),
        rollups.Part(
            ledger=Deal,
            source=lambda ledger: _close_values_without_history(ledger, who),
            record="pk",
        ),
    )


CLOSES = rollups.Rollup(
    name="Deal closes per day, owner (and for everyone), channel, currency, "
    "status and close day (pipeline.DealCloseDaily)",
    model=DealCloseDaily,
    key=CLOSE_KEY,
    sums=("deals", "amount", "cycle"),
    parts=(*_close_parts(rollups.by_owner), *_close_parts(rollups.everyone)),
)


# --- the pipeline by stage ------------------------------------------------------

PIPELINE_KEY = ("day", "owner_id", "channel", "currency", "stage")


def _pipeline_sums(sign: int, deal: str) -> dict:
    """The rollup's sums over deals (``deal``: the path to the deal's fields)."""
    own = Q(**{f"{deal}probability__isnull": False})
    amount = F(f"{deal}amount")
    return {
        "n": Sum(Value(sign)),
        "total": Sum(Value(sign) * amount, output_field=AMOUNT),
        "own_probability": Coalesce(
            Sum(
                Value(sign) * amount * F(f"{deal}probability"),
                filter=own,
                output_field=PROBABILITY_AMOUNT,
            ),
            Value(Decimal(0)),
            output_field=PROBABILITY_AMOUNT,
        ),
        "stage_probability": Coalesce(
            Sum(Value(sign) * amount, filter=~own, output_field=AMOUNT),
            Value(Decimal(0)),
            output_field=AMOUNT,
        ),
    }


SUM_NAMES = ("n", "total", "own_probability", "stage_probability")


def _entering(ledger: type[models.Model], when=_day, who=rollups.by_owner) -> QuerySet:
    """Stage changes into an open stage (+1 there, on their day)."""
    return (
        ledger._default_manager.order_by()
        .filter(to_status=DealStatus.OPEN)
        .annotate(day=when("changed_at"), who=who("deal__owner"))
        .values("day", "who", "deal__channel", "deal__currency", "to_stage")
        .annotate(**_pipeline_sums(1, "deal__"))
        .values_list(
            "day", "who", "deal__channel", "deal__currency", "to_stage", *SUM_NAMES
        )
    )


def _leaving(ledger: type[models.Model], when=_day, who=rollups.by_owner) -> QuerySet:
    """Stage changes out of an open stage (-1 there, on their day)."""
    return (
        ledger._default_manager.order_by()
        .filter(from_status=DealStatus.OPEN)
        .annotate(day=when("changed_at"), who=who("deal__owner"))
        .values("day", "who", "deal__channel", "deal__currency", "from_stage")
        .annotate(**_pipeline_sums(-1, "deal__"))
        .values_list(
            "day", "who", "deal__channel", "deal__currency", "from_stage", *SUM_NAMES
        )
    )


def _created_without_history(
    ledger: type[models.Model], when=_day, who=rollups.by_owner
) -> QuerySet:
    """Deals without history enter their current stage on their creation day."""
    return (
        _without_history(ledger)
        .annotate(day=when("created_at"), who=who("owner"))
        .values("day", "who", "channel", "currency", "stage")
        .annotate(**_pipeline_sums(1, ""))
        .values_list("day", "who", "channel", "currency", "stage", *SUM_NAMES)
    )


def _closed_without_history(
    ledger: type[models.Model], when=_day, who=rollups.by_owner
) -> QuerySet:
    """...and leave it on the day they closed."""
    return (
        _without_history(ledger)
        .filter(status__in=CLOSED)
        .annotate(day=when("closed_at"), who=who("owner"))
        .values("day", "who", "channel", "currency", "stage")
        .annotate(**_pipeline_sums(-1, ""))
        .values_list("day", "who", "channel", "currency", "stage", *SUM_NAMES)
    )


PIPELINE_SUMS = ("deals", "amount", "probability_amount", "stage_probability_amount")


def _pipeline_parts(when, who=rollups.by_owner) -> tuple[rollups.Part, ...]:
    """The pipeline's four ledger queries, grouped by ``when`` (a day, a month)
    and ``who`` (the owner, or everyone)."""

    def by(source):
        return lambda ledger: source(ledger, when, who)

    return (
        rollups.Part(ledger=StageChange, source=by(_entering), record="deal_id"),
        rollups.Part(ledger=StageChange, source=by(_leaving), record="deal_id"),
        rollups.Part(ledger=Deal, source=by(_created_without_history), record="pk"),
        rollups.Part(ledger=Deal, source=by(_closed_without_history), record="pk"),
    )


PIPELINE = rollups.Rollup(
    name="Open deals entering and leaving each stage per day, owner, channel "
    "and currency (pipeline.PipelineDaily)",
    model=PipelineDaily,
    key=PIPELINE_KEY,
    sums=PIPELINE_SUMS,
    parts=_pipeline_parts(_day),
)

PIPELINE_MONTHS = rollups.Rollup(
    name="The same per month, and its running total over every month, per "
    "owner and for everyone (pipeline.PipelineMonthly)",
    model=PipelineMonthly,
    key=("month", *PIPELINE_KEY[1:]),
    sums=PIPELINE_SUMS,
    parts=tuple(
        part
        for when in (_month, _all_months)
        for who in (rollups.by_owner, rollups.everyone)
        for part in _pipeline_parts(when, who)
    ),
)


# --- the funnel -------------------------------------------------------------------


def depth_of(field: str) -> Case:
    """The stage in ``field`` as its place in the funnel (0 to 4)."""
    return Case(
        *(When(**{field: stage}, then=Value(i)) for stage, i in STAGE_INDEX.items()),
        output_field=IntegerField(),
    )


def deal_depth(ledger_prefix: str = "") -> Greatest:
    """How deep the deal went: its deepest stage, or its stage if deeper (a
    deal written without the services)."""
    return Greatest(
        depth_of(f"{ledger_prefix}deepest_stage"), depth_of(f"{ledger_prefix}stage")
    )


def _funnel_values(ledger: type[models.Model]) -> QuerySet:
    """Deals grouped by creation day, channel and depth, with the won ones."""
    return (
        ledger._default_manager.order_by()
        .annotate(day=_day("created_at"), depth=deal_depth())
        .values("day", "channel", "depth")
        .annotate(n=Count("pk"), won_n=Count("pk", filter=Q(status=DealStatus.WON)))
        .values_list("day", "channel", "depth", "n", "won_n")
    )


FUNNEL = rollups.Rollup(
    name="Deals per creation day, channel and deepest stage reached "
    "(pipeline.FunnelDaily)",
    model=FunnelDaily,
    key=("day", "channel", "depth"),
    sums=("deals", "won"),
    parts=(rollups.Part(ledger=Deal, source=_funnel_values, record="pk"),),
)

ROLLUPS = (CLOSES, PIPELINE, PIPELINE_MONTHS, FUNNEL)


# --- the cold calls ---------------------------------------------------------------


def _cold_call_values(ledger: type[models.Model], who=rollups.by_owner) -> QuerySet:
    """The cold calls grouped as their rollup: day, caller (or everyone), outcome."""
    return (
        ledger._default_manager.order_by()
        .filter(is_cold_call=True)
        .annotate(day=_day("occurred_at"), who_=who("owner"))
        .values("day", "who_", "outcome")
        .annotate(n=Count("pk"))
        .values_list("day", "who_", "outcome", "n")
    )


COLD_CALLS = rollups.Rollup(
    name="Cold calls per day, caller (and everyone) and outcome "
    "(pipeline.ColdCallDaily)",
    model=ColdCallDaily,
    key=("day", "owner_id", "outcome"),
    sums=("calls",),
    parts=rollups.per_owner_and_everyone(Activity, _cold_call_values, record="pk"),
)


def cold_call_add(activity: Activity) -> None:
    """Count an activity just logged done or completed, if it is a cold call
    (1 statement; none otherwise)."""
    if not activity.is_cold_call:
        return
    row = {
        "day": timezone.localdate(activity.occurred_at),
        "owner_id": activity.owner_id,
        "outcome": activity.outcome,
        "calls": 1,
    }
    rollups.add(COLD_CALLS, rollups.with_everyone([row]))


def _won_over_values(ledger: type[models.Model]) -> QuerySet:
    """The calls won over grouped as their rollup: the day, the day of the
    lead's previous call won over (in the order of time, then of id), calls.

    Spelled out on the manager, as a migration's historical model has no
    custom queryset.
    """
    won_over = ledger._default_manager.filter(is_cold_call=True, led_to_lead=True)
    earlier = won_over.filter(
        Q(occurred_at__lt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), pk__lt=OuterRef("pk")),
        lead=OuterRef("lead"),
    ).order_by("-occurred_at", "-pk")
    return (
        won_over.order_by()
        .annotate(
            day=_day("occurred_at"),
            previous=Coalesce(
                Subquery(earlier.annotate(day=_day("occurred_at")).values("day")[:1]),
                Value(NO_EARLIER_CALL, output_field=DateField()),
            ),
        )
        .values("day", "previous")
        .annotate(n=Count("pk"))
        .values_list("day", "previous", "n")
    )


WON_OVER = rollups.Rollup(
    name="Cold calls that won their prospect over, per day and the lead's "
    "previous one's day (pipeline.WonOverDaily)",
    model=WonOverDaily,
    key=("day", "previous_day"),
    sums=("calls",),
    parts=(rollups.Part(ledger=Activity, source=_won_over_values, record="lead_id"),),
)


# What bulk writers of activities rebuild.
ACTIVITY_ROLLUPS = (COLD_CALLS, WON_OVER)


def won_over_add(*, leads: QuerySet) -> None:
    """Count the calls just marked as having won ``leads`` over (1 statement).

    Every call won over of each lead is added: none of them was counted
    before (``ActivityQuerySet.mark_won_over``).
    """
    (part,) = WON_OVER.parts
    rollups.add_ledger_rows(WON_OVER, part, lead__in=leads)


# --- what the services add ------------------------------------------------------


def _amount(deal: Deal) -> Decimal:
    """The deal's amount as a number (a caller may have set it as text)."""
    return Decimal(str(deal.amount))


def _pipeline_row(deal: Deal, day: datetime.date, stage: str, sign: int) -> dict:
    own = deal.probability is not None
    amount = _amount(deal)
    return {
        "day": day,
        "owner_id": deal.owner_id,
        "channel": deal.channel,
        "currency": deal.currency,
        "stage": stage,
        "deals": sign,
        "amount": sign * amount,
        "probability_amount": (
            sign * amount * int(deal.probability) if own else Decimal(0)
        ),
        "stage_probability_amount": Decimal(0) if own else sign * amount,
    }


def _by_month(rows: list[dict]) -> list[dict]:
    """The daily pipeline rows as the monthly rollup's: their month's and the
    running total's, for their owner and for everyone."""
    return [
        {**row, "month": month}
        for row in rollups.with_everyone(rows)
        for month in (row["day"].replace(day=1), ALL_MONTHS)
    ]


def change_rows(
    change: StageChange, deal: Deal, *, undone_close_at: datetime.datetime | None
) -> rollups.Increments:
    """Return what one new stage change of ``deal`` (as it is now) adds to
    the rollups: the pipeline by day, by month with its running total, and
    for a close or a reopening the closes. ``undone_close_at``: for a
    reopening, the moment of the close it undoes (its history row's).
    """
    day = timezone.localdate(change.changed_at)
    moves = []
    if change.from_status == DealStatus.OPEN:
        moves.append(_pipeline_row(deal, day, change.from_stage, -1))
    if change.to_status == DealStatus.OPEN:
        moves.append(_pipeline_row(deal, day, change.to_stage, 1))
    increments = [(PIPELINE, moves), (PIPELINE_MONTHS, _by_month(moves))]
    if change.to_status in CLOSED:
        increments.append(
            (CLOSES, _close_rows(deal, day, change.to_status, change.changed_at, 1))
        )
    elif change.from_status in CLOSED and undone_close_at is not None:
        increments.append(
            (CLOSES, _close_rows(deal, day, change.from_status, undone_close_at, -1))
        )
    return increments


def change_add(
    change: StageChange, deal: Deal, *, undone_close_at: datetime.datetime | None
) -> None:
    """Write ``change_rows`` on their own, one statement per rollup (for a
    history row written apart, as the KPI tests' datasets do)."""
    for rollup, rows in change_rows(change, deal, undone_close_at=undone_close_at):
        rollups.add(rollup, rows)


def _close_rows(deal: Deal, day, status: str, close_at, sign: int) -> list[dict]:
    """A close (or its undoing), for the deal's owner and for everyone."""
    return rollups.with_everyone(
        [
            {
                "day": day,
                "owner_id": deal.owner_id,
                "channel": deal.channel,
                "currency": deal.currency,
                "status": status,
                "closed_on": timezone.localdate(close_at),
                "deals": sign,
                "amount": sign * _amount(deal),
                "cycle": sign * (close_at - deal.created_at),
            }
        ]
    )


def funnel_row(
    deal: Deal, *, deepest: str | None = None, stage: str | None = None
) -> dict:
    """The deal's one row in the funnel rollup as it is now, or as it was
    before a move that already changed its fields (``deepest``: the deepest
    stage it had reached; ``stage``: the one it left)."""
    return {
        "day": timezone.localdate(deal.created_at),
        "channel": deal.channel,
        "depth": max(
            STAGE_INDEX[deepest or deal.deepest_stage],
            STAGE_INDEX[stage or deal.stage],
        ),
        "deals": 1,
        "won": int(deal.status == DealStatus.WON),
    }


def funnel_changes(before: dict | None, deal: Deal) -> list[dict]:
    """Return the rows moving the deal's count in the funnel rollup from
    ``before`` (its ``funnel_row`` before the change; None for a new deal) to
    where it is now; they cancel out when the change leaves it where it was
    (a move that reaches no new stage, a loss), and nothing is written."""
    after = funnel_row(deal)
    if before is None:
        return [after]
    return [{**before, **{name: -before[name] for name in FUNNEL.sums}}, after]


def funnel_moved(before: dict | None, deal: Deal) -> None:
    """Write ``funnel_changes`` on their own (1 statement, none if they cancel)."""
    rollups.add(FUNNEL, funnel_changes(before, deal))


def standing_close_at(deal: Deal) -> datetime.datetime | None:
    """Return the moment of the deal's last history row (its standing close)."""
    return (
        StageChange.objects.filter(deal=deal)
        .order_by("-changed_at", "-pk")
        .values_list("changed_at", flat=True)
        .first()
    )


# What the rollups' keys and sums read of a deal: a change of one moves them.
DIMENSIONS = frozenset({"owner", "channel", "currency", "amount", "probability"})


@contextmanager
def deal_moving(deal_id: int, fields) -> Iterator[None]:
    """Move the deal's sums when the block changes one of its ``DIMENSIONS``.

    Call it with the deal locked: its contributions are read before and after
    the block (9 queries each time, and 4 statements), only when a dimension
    changes. Its monthly rows are its daily ones by month: not read again.
    """
    if not DIMENSIONS & set(fields):
        yield
        return
    read = (CLOSES, PIPELINE, FUNNEL)
    before = [rollups.contributions(rollup, deal_id) for rollup in read]
    yield
    for rollup, rows in zip(read, before, strict=True):
        after = rollups.contributions(rollup, deal_id)
        rollups.replace_contributions(rollup, rows, after)
        if rollup is PIPELINE:
            rollups.replace_contributions(
                PIPELINE_MONTHS, _by_month(rows), _by_month(after)
            )
