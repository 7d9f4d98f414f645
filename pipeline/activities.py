"""Logging activities: calls, e-mails, meetings and notes against a lead, a
contact or a deal, with the cold-call rule and the lead's engagement counters
(``Lead.activity_count``, ``first_activity_at``, ``last_activity_at``) updated in
the same transaction.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from crm import policy
from crm.models import Contact, User
from leads.models import Channel, Lead, LeadStatus
from leads.models import Touch as LeadTouch
from leads.services import lead_promote
from pipeline import history
from pipeline.models import (
    INTEREST_KINDS,
    INTEREST_OUTCOMES,
    Activity,
    ActivityKind,
    Deal,
    Direction,
    Outcome,
)


def _check_choice(errors: dict, field: str, value: str, choices, *, blank=False):
    if (blank and value == "") or value in choices.values:
        return
    errors[field] = f"Use one of: {', '.join(choices.values)}."


def is_cold_call(*, kind: str, direction: str, lead: Lead | None) -> bool:
    """Return whether a call is cold (the rule of ``history.is_cold_call``)."""
    return history.is_cold_call(
        kind=kind,
        direction=direction,
        lead_status=lead.status if lead is not None else None,
        came_inbound=lambda: LeadTouch.objects.filter(
            lead=lead, channel=Channel.INBOUND
        ).exists(),
    )


def shows_interest(*, lead: Lead | None, kind: str, outcome: str) -> bool:
    """Return whether an activity makes its prospect a lead (docs/leads.md).

    A call or a meeting that booked a meeting is interest; answering the phone
    (``connected``) is not, nor is an e-mail or a note.
    """
    return (
        lead is not None
        and lead.status == LeadStatus.PROSPECT
        and kind in INTEREST_KINDS
        and outcome in INTEREST_OUTCOMES
    )


def activity_log(
    *,
    by: User,
    kind: str,
    direction: str = Direction.OUTBOUND,
    outcome: str = "",
    lead: Lead | None = None,
    contact: Contact | None = None,
    deal: Deal | None = None,
    occurred_at: datetime.datetime | None = None,
    duration_seconds: int | None = None,
    notes: str = "",
    owner: User | None = None,
) -> Activity:
    """Log a call, e-mail, meeting or note; mark cold calls; update engagement."""
    errors: dict[str, str] = {}
    _check_choice(errors, "kind", kind, ActivityKind)
    _check_choice(errors, "direction", direction, Direction)
    _check_choice(errors, "outcome", outcome, Outcome, blank=True)
    if lead is None and contact is None and deal is None:
        errors["lead"] = "Log it against a lead, contact or deal."
    # A subject out of scope is refused as if it did not exist.
    for field, subject in (("lead", lead), ("deal", deal), ("contact", contact)):
        if subject is not None and not policy.may_see(by, subject):
            errors[field] = policy.does_not_exist(subject.pk)
    now = timezone.now()
    occurred_at = occurred_at or now
    # A few minutes of tolerance for the clocks of the callers' devices.
    if occurred_at > now + datetime.timedelta(minutes=5):
        errors["occurred_at"] = "An activity cannot happen in the future."
    if duration_seconds is not None and duration_seconds < 0:
        errors["duration_seconds"] = "A duration cannot be negative."
    owner = owner or by
    if not policy.may_assign(by, owner):
        errors["owner"] = "You cannot log an activity for this user."
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        if lead is not None:
            # Locked so that the status read for the cold-call rule is the one the
            # activity is logged against (a concurrent capture may make it a lead).
            lead = Lead.objects.select_for_update().get(pk=lead.pk)
        activity = Activity.objects.create(
            kind=kind,
            direction=direction,
            outcome=outcome,
            is_cold_call=is_cold_call(kind=kind, direction=direction, lead=lead),
            occurred_at=occurred_at,
            duration_seconds=duration_seconds,
            lead=lead,
            contact=contact,
            deal=deal,
            owner=owner,
            notes=notes,
        )
        if lead is not None:
            Lead.objects.filter(pk=lead.pk).update(
                **history.engagement_update(occurred_at), updated_at=now
            )
        if shows_interest(lead=lead, kind=kind, outcome=outcome):
            # Dated when the interest was shown (never before the record existed).
            lead_promote(lead=lead, by=by, at=max(occurred_at, lead.created_at))
        if deal is not None:
            # Not a version bump: logging a call must not make a rep's open form
            # on the deal stale.
            Deal.objects.filter(pk=deal.pk).update(
                last_activity_at=Greatest(
                    Coalesce("last_activity_at", Value(occurred_at)),
                    Value(occurred_at),
                )
            )
    return activity
