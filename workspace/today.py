"""What a sales user has to do today, read in a few bounded queries."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from crm.models import User
from leads.models import Lead, LeadStatus
from pipeline.models import Activity, Deal, StageRules
from workspace import tasks

PER_LIST = 20


@dataclass(frozen=True)
class Today:
    tasks: list[Activity]
    tasks_count: int
    waiting_leads: list[Lead]
    waiting_count: int
    stale_deals: list[Deal]
    closing_deals: list[Deal]
    month_start: datetime.date
    now: datetime.datetime
    # The response-time target, and the arrival before which a wait exceeds it.
    response_target: datetime.timedelta
    response_deadline: datetime.datetime


def today_for(user: User, *, now: datetime.datetime | None = None) -> Today:
    """Return the user's tasks due, waiting leads, stale deals and deals closing.

    Tasks are the user's own, overdue or due today, the oldest due first.

    Waiting leads are leads in the user's scope nobody has called, written to or
    met yet, oldest first (the longest wait is the most urgent). Deals are the
    user's own open ones.
    """
    now = now or timezone.now()
    local_today = timezone.localdate(now)
    month_start = local_today.replace(day=1)
    next_month = (month_start + datetime.timedelta(days=32)).replace(day=1)

    waiting = Lead.objects.visible_to(user).filter(
        # Answered as the response-time KPI counts it: the lead's own inbound
        # e-mail or a note is not a response, so the lead keeps waiting.
        status=LeadStatus.LEAD,
        first_response_at__isnull=True,
    )
    mine = Deal.objects.visible_to(user).open().filter(owner=user)
    rules = StageRules.load()
    target = datetime.timedelta(minutes=settings.CRM_LEAD_RESPONSE_SLA_MINUTES)
    due = tasks.due_for(user, now)
    return Today(
        tasks=list(
            due.select_related("lead", "deal", "contact", "company").order_by(
                "due_at", "pk"
            )[:PER_LIST]
        ),
        tasks_count=due.count(),
        waiting_leads=list(
            waiting.select_related("offer").order_by("created_at", "pk")[:PER_LIST]
        ),
        waiting_count=waiting.count(),
        stale_deals=list(
            mine.stale(rules, now)
            .select_related("company")
            .order_by("stage_entered_at", "pk")[:PER_LIST]
        ),
        closing_deals=list(
            mine.filter(
                expected_close_on__gte=month_start, expected_close_on__lt=next_month
            )
            .with_staleness(rules, now)
            .select_related("company")
            .order_by("expected_close_on", "pk")[:PER_LIST]
        ),
        month_start=month_start,
        now=now,
        response_target=target,
        response_deadline=now - target,
    )
