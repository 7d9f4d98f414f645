"""Demo data of the pipeline: deals with 12 months of history, activities, cold calls.

Rows are built in memory and bulk-inserted. What happened is random (a deal's
steps and their times, the calls made); what the services would have recorded
comes from ``pipeline.history``, the rules the services use: the ``StageChange``
rows and the deal's stage, status, close and version, which calls are cold, the
leads' activity counters. A few qualified leads of the leads demo are converted
through the real service.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Min
from tqdm import tqdm

from crm import rollups
from crm.demo_context import DemoContext
from crm.models import Company, Contact, Role, User
from leads import rollups as lead_rollups
from leads.models import Channel, Lead, LeadStatus, Touch
from pipeline import history, services
from pipeline import rollups as pipeline_rollups
from pipeline.models import (
    STAGE_ORDER,
    Activity,
    ActivityKind,
    Deal,
    DealStatus,
    Direction,
    LostReason,
    Outcome,
    StageChange,
)

AMOUNTS = [Decimal(a) for a in ("1200", "2500", "4800", "9900", "18000", "45000")]
TITLES = ["Pilot", "Rollout", "Renewal", "Upgrade", "Expansion", "Licences"]
CALL_OUTCOMES = [
    # weights of a realistic cold-calling day: mostly nobody picks up
    (Outcome.NO_ANSWER, 40),
    (Outcome.VOICEMAIL, 25),
    (Outcome.CONNECTED, 15),
    (Outcome.NOT_INTERESTED, 10),
    (Outcome.MEETING_BOOKED, 6),
    (Outcome.WRONG_NUMBER, 4),
]
Event = tuple[int, str]  # (stage index, status) after the change


def seed(ctx: DemoContext) -> str:
    """Create deals, their history and activities once; later runs change nothing."""
    if Deal.objects.exists():
        return "already seeded"
    reps = list(User.objects.filter(role=Role.REP, is_active=True).order_by("pk"))
    if not reps:
        return "no reps to own deals: skipped"
    deals, changes, activities = _deals(ctx, reps)
    cold_calls = _cold_calls(ctx)
    # The activities were written around the services: count their cold calls,
    # those that won a prospect over, and the leads' response times they set.
    for rollup in (*pipeline_rollups.ACTIVITY_ROLLUPS, *lead_rollups.DURATION_ROLLUPS):
        rollups.rebuild(rollup)
    converted = _convert_qualified_leads(ctx)
    return (
        f"{deals} deals, {changes} stage changes, {activities} deal activities, "
        f"{cold_calls} prospect calls, {converted} leads converted"
    )


def _path(ctx: DemoContext, outcome: str) -> list[Event]:
    """Return the (stage, status) sequence of one deal: mostly forward moves."""
    rng = ctx.rng
    start = 0 if rng.random() < 0.8 else 1
    if outcome == DealStatus.WON:
        target = len(STAGE_ORDER) - 1
    elif outcome == DealStatus.LOST:
        target = rng.randint(start, len(STAGE_ORDER) - 1)
    else:
        target = max(start, rng.choices(range(5), weights=[30, 25, 20, 15, 10])[0])
    events: list[Event] = [(start, DealStatus.OPEN)]
    current = start
    while current < target:
        if current > start and rng.random() < 0.1:
            current -= 1  # back one stage: the buyer's situation changed
        else:
            current = min(target, current + (2 if rng.random() < 0.15 else 1))
        events.append((current, DealStatus.OPEN))
    if outcome == DealStatus.WON:
        events.append((current, DealStatus.WON))
    elif outcome == DealStatus.LOST:
        events.append((current, DealStatus.LOST))
        if rng.random() < 0.05:  # lost, reopened, finally won
            events.append((current, DealStatus.OPEN))
            events.extend((i, DealStatus.OPEN) for i in range(current + 1, 5))
            events.append((4, DealStatus.WON))
    return events


def _deals(ctx: DemoContext, reps: list[User]) -> tuple[int, int, int]:
    rng, now = ctx.rng, ctx.now
    managers = {rep.pk: rep.team.manager_id if rep.team_id else None for rep in reps}
    companies = list(Company.objects.values_list("pk", "name"))
    contacts_of: dict[int, list[int]] = defaultdict(list)
    for contact_pk, company_pk in Contact.objects.values_list("pk", "company_id"):
        contacts_of[company_pk].append(contact_pk)

    count = 150 * ctx.size
    deals: list[Deal] = []
    histories: list[history.DealHistory] = []
    deal_activities: list[list[Activity]] = []
    for _ in tqdm(range(count), desc="deals", disable=ctx.quiet or count < 1000):
        owner = rng.choice(reps)
        created = now - datetime.timedelta(
            days=rng.uniform(0, 365), seconds=rng.uniform(0, 3600)
        )
        age_days = (now - created).days
        closed = rng.random() < min(0.85, age_days / 200)
        outcome = (
            (DealStatus.WON if rng.random() < 0.4 else DealStatus.LOST)
            if closed
            else DealStatus.OPEN
        )
        events = _path(ctx, outcome)
        end = (
            min(now, created + datetime.timedelta(days=rng.uniform(10, 150)))
            if closed
            else now - datetime.timedelta(days=rng.uniform(0, min(age_days, 20)))
        )
        times = [created, *sorted(ctx.moment_between(created, end) for _ in events[1:])]
        company_pk, company_name = rng.choice(companies) if companies else (None, "")
        by = [
            owner.pk
            if rng.random() < 0.9 or not managers[owner.pk]
            else managers[owner.pk]
            for _ in events
        ]
        deal_history = history.deal_history(
            [
                history.Step(STAGE_ORDER[stage], status, at, by_pk)
                for (stage, status), at, by_pk in zip(events, times, by, strict=True)
            ]
        )
        deal = Deal(
            title=f"{company_name or 'Prospect'} {rng.choice(TITLES)}",
            owner=owner,
            company_id=company_pk,
            contact_id=rng.choice(contacts_of[company_pk])
            if contacts_of.get(company_pk)
            else None,
            channel=rng.choice(Channel.values),
            amount=rng.choice(AMOUNTS),
            currency="USD" if rng.random() < 0.1 else "EUR",
            probability=rng.choice([None] * 8 + [30, 70]),
            # Closed deals: planned around their close; open ones: still ahead.
            expected_close_on=(
                (times[-1] if closed else now)
                + datetime.timedelta(days=rng.randint(-10 if closed else 5, 90))
            ).date(),
            stage=deal_history.stage,
            status=deal_history.status,
            lost_reason=rng.choice(LostReason.values)
            if deal_history.status == DealStatus.LOST
            else "",
            closed_at=deal_history.closed_at,
            stage_entered_at=deal_history.stage_entered_at,
            deepest_stage=deal_history.deepest_stage,
            version=deal_history.version,
        )
        if deal.lost_reason == LostReason.OTHER:
            deal.lost_notes = "Project cancelled after a reorganisation."
        activities = _deal_activities(ctx, deal, created, times[-1] if closed else now)
        deal.last_activity_at = history.Engagement.of(
            a.occurred_at for a in activities
        ).last_activity_at
        deals.append(deal)
        histories.append(deal_history)
        deal_activities.append(activities)

    Deal.objects.bulk_create(deals, batch_size=1000)
    # ``created_at`` is auto_now_add: bulk_create stamps "now", so set it after.
    for deal, deal_history in zip(deals, histories, strict=True):
        deal.created_at = deal_history.created_at
        deal.updated_at = deal_history.changes[-1].changed_at
    Deal.objects.bulk_update(deals, ["created_at", "updated_at"], batch_size=1000)

    changes = [
        StageChange(
            deal=deal,
            from_stage=change.from_stage,
            to_stage=change.to_stage,
            from_status=change.from_status,
            to_status=change.to_status,
            changed_by_id=change.changed_by,
            changed_at=change.changed_at,
        )
        for deal, deal_history in zip(deals, histories, strict=True)
        for change in deal_history.changes
    ]
    StageChange.objects.bulk_create(changes, batch_size=2000)
    # Written around the services: the rollups are recomputed from the history.
    for rollup in pipeline_rollups.ROLLUPS:
        rollups.rebuild(rollup)

    rows = []
    for deal, activities in zip(deals, deal_activities, strict=True):
        for activity in activities:
            activity.deal = deal
            rows.append(activity)
    Activity.objects.bulk_create(rows, batch_size=2000)
    return len(deals), len(changes), len(rows)


def _deal_activities(
    ctx: DemoContext, deal: Deal, start: datetime.datetime, end: datetime.datetime
) -> list[Activity]:
    rng = ctx.rng
    activities = []
    for _ in range(rng.randint(0, 4)):
        kind = rng.choice(
            [
                ActivityKind.CALL,
                ActivityKind.EMAIL,
                ActivityKind.MEETING,
                ActivityKind.NOTE,
            ]
        )
        is_call = kind == ActivityKind.CALL
        activities.append(
            Activity(
                kind=kind,
                direction=Direction.INBOUND
                if rng.random() < 0.2
                else Direction.OUTBOUND,
                outcome=_outcome(ctx) if is_call else "",
                occurred_at=ctx.moment_between(start, end),
                duration_seconds=rng.randint(60, 1800) if is_call else None,
                contact_id=deal.contact_id,
                owner=deal.owner,
            )
        )
    return activities


def _outcome(ctx: DemoContext) -> str:
    outcomes, weights = zip(*CALL_OUTCOMES, strict=True)
    return ctx.rng.choices(outcomes, weights=weights)[0]


def _cold_calls(ctx: DemoContext) -> int:
    """Calls to the leads demo's prospects and leads, and the leads' counters.

    Whether each call is cold is the services' rule (``history.is_cold_call``)
    applied to the person as they were when called: still a prospect, and with
    no inbound touch yet.
    """
    rng = ctx.rng
    targets = list(
        Lead.objects.filter(status__in=[LeadStatus.PROSPECT, LeadStatus.LEAD])
        .only("pk", "status", "owner_id", "created_at", "became_lead_at")
        .order_by("pk")
    )
    first_inbound = dict(
        Touch.objects.filter(channel=Channel.INBOUND)
        .values("lead_id")
        .annotate(first=Min("occurred_at"))
        .values_list("lead_id", "first")
        .order_by()
    )
    rows, called = [], []
    for lead in tqdm(targets, desc="calls", disable=ctx.quiet or len(targets) < 1000):
        start = max(lead.created_at, ctx.now - datetime.timedelta(days=365))
        # Reps call their prospects more often than their leads.
        calls = (
            rng.randint(1, 3)
            if lead.status == LeadStatus.PROSPECT
            else rng.randint(0, 1)
        )
        engagement = history.Engagement()
        for _ in range(calls):
            outcome = _outcome(ctx)
            occurred_at = ctx.moment_between(start, ctx.now)
            touched_at = first_inbound.get(lead.pk)
            cold = history.is_cold_call(
                kind=ActivityKind.CALL,
                direction=Direction.OUTBOUND,
                lead_status=history.status_at(
                    occurred_at, became_lead_at=lead.became_lead_at
                ),
                came_inbound=touched_at is not None and touched_at <= occurred_at,
            )
            rows.append(
                Activity(
                    kind=ActivityKind.CALL,
                    direction=Direction.OUTBOUND,
                    outcome=outcome,
                    is_cold_call=cold,
                    led_to_lead=cold
                    and history.led_to_lead(
                        occurred_at, became_lead_at=lead.became_lead_at
                    ),
                    occurred_at=occurred_at,
                    duration_seconds=rng.randint(20, 900)
                    if outcome in (Outcome.CONNECTED, Outcome.MEETING_BOOKED)
                    else rng.randint(5, 40),
                    lead_id=lead.pk,
                    owner_id=lead.owner_id,
                )
            )
            engagement.log(
                occurred_at,
                responds=history.is_response(
                    kind=ActivityKind.CALL, direction=Direction.OUTBOUND
                ),
                became_lead_at=lead.became_lead_at,
            )
        if engagement.activity_count:
            lead.activity_count = engagement.activity_count
            lead.first_activity_at = engagement.first_activity_at
            lead.last_activity_at = engagement.last_activity_at
            lead.first_response_at = engagement.first_response_at
            called.append(lead)
    Activity.objects.bulk_create(rows, batch_size=2000)
    Lead.objects.bulk_update(
        called,
        [
            "activity_count",
            "first_activity_at",
            "last_activity_at",
            "first_response_at",
        ],
        batch_size=1000,
    )
    return len(rows)


def _convert_qualified_leads(ctx: DemoContext) -> int:
    """Convert a few qualified leads through the real service (if there are any)."""
    qualified = (
        Lead.objects.filter(status=LeadStatus.QUALIFIED, deal__isnull=True)
        .select_related("owner")
        .order_by("pk")[: 5 * ctx.size]
    )
    converted = 0
    for lead in qualified:
        services.lead_convert(lead=lead, by=lead.owner, amount=ctx.rng.choice(AMOUNTS))
        converted += 1
    return converted
