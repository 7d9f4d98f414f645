"""Logging activities: calls, e-mails, meetings and notes against a lead, a
contact or a deal, with the cold-call rule and the lead's engagement counters
(``Lead.activity_count``, ``first_activity_at``, ``last_activity_at`` and
``first_response_at``) updated in the same transaction. A planned activity
(``done=False``, due at ``due_at``) counts nowhere until ``activity_complete``
marks it done. Activities are a log: once done, only their notes change and
none is deleted, so no other path moves these counters.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import policy
from crm.errors import final_state
from crm.models import Company, Contact, User
from crm.versioning import ExpectedVersion, lock_version, save_versioned
from leads import rollups as lead_rollups
from leads.models import Channel, Lead, LeadStatus
from leads.models import Touch as LeadTouch
from leads.services import lead_promote
from pipeline import history
from pipeline import rollups as pipeline_rollups
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
    # The values are the API's codes, which stay English in every language.
    errors[field] = _("Use one of: %(values)s.") % {"values": ", ".join(choices.values)}


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


def _promote_if_interested(activity: Activity, *, lead: Lead | None, by: User) -> None:
    """Make a prospect a lead when a done call or meeting shows interest."""
    if shows_interest(lead=lead, kind=activity.kind, outcome=activity.outcome):
        # Dated when the interest was shown (never before the record existed).
        lead_promote(lead=lead, by=by, at=max(activity.occurred_at, lead.created_at))


def field_errors(model, values: dict[str, Any], *names: str) -> dict[str, str]:
    """Check values against the model fields' own validators (ranges, dates)."""
    errors = {}
    for name in names:
        if values.get(name) is None:
            continue
        try:
            model._meta.get_field(name).run_validators(values[name])
        except ValidationError as exc:
            errors[name] = exc.messages[0]
    return errors


def _when_done(
    errors: dict[str, str],
    *,
    occurred_at: datetime.datetime | None,
    duration_seconds: int | None,
    now: datetime.datetime,
) -> datetime.datetime:
    """Check the moment and duration of a done activity; return the moment."""
    occurred_at = occurred_at or now
    # A few minutes of tolerance for the clocks of the callers' devices.
    if occurred_at > now + datetime.timedelta(minutes=5):
        errors["occurred_at"] = _(
            "A done activity cannot happen in the future; "
            "plan it instead (done: false, with due_at)."
        )
    errors.update(
        field_errors(
            Activity,
            {"occurred_at": occurred_at, "duration_seconds": duration_seconds},
            "occurred_at",
            "duration_seconds",
        )
    )
    return occurred_at


def _record_engagement(
    activity: Activity, *, lead: Lead | None, now: datetime.datetime
) -> None:
    """Count a done activity on its lead and deal (callers hold the lead's lock,
    and pass the lead as they read it under it)."""
    occurred_at = activity.occurred_at
    if lead is not None:
        Lead.objects.filter(pk=lead.pk).update(
            **history.engagement_update(
                occurred_at, kind=activity.kind, direction=activity.direction
            ),
            updated_at=now,
        )
        _count_response(lead, activity)
    if activity.deal_id is not None:
        # Not a version bump: logging a call must not make a rep's open form
        # on the deal stale.
        Deal.objects.filter(pk=activity.deal_id).update(
            last_activity_at=Greatest(
                Coalesce("last_activity_at", Value(occurred_at)),
                Value(occurred_at),
            )
        )


def _count_response(lead: Lead, activity: Activity) -> None:
    """Move the lead's response time in the duration rollup if ``activity``
    is its first answer (the rule of the ``UPDATE`` above, applied to the
    locked lead's columns): 1 statement, none for most activities."""
    engagement = history.Engagement(first_response_at=lead.first_response_at)
    engagement.log(
        activity.occurred_at,
        responds=history.is_response(kind=activity.kind, direction=activity.direction),
        became_lead_at=lead.became_lead_at,
    )
    if engagement.first_response_at != lead.first_response_at:
        before = lead_rollups.counted(lead)
        lead.first_response_at = engagement.first_response_at
        lead_rollups.lead_moved(before, lead)


def activity_log(
    *,
    by: User,
    kind: str,
    direction: str = Direction.OUTBOUND,
    outcome: str = "",
    lead: Lead | None = None,
    contact: Contact | None = None,
    deal: Deal | None = None,
    company: Company | None = None,
    occurred_at: datetime.datetime | None = None,
    duration_seconds: int | None = None,
    notes: str = "",
    owner: User | None = None,
    done: bool = True,
    due_at: datetime.datetime | None = None,
) -> Activity:
    """Log a call, e-mail, meeting or note; mark cold calls; update engagement.

    A planned activity (``done=False``) is due at ``due_at``, possibly in the
    future; it counts nowhere until ``activity_complete``.
    """
    errors: dict[str, str] = {}
    _check_choice(errors, "kind", kind, ActivityKind)
    _check_choice(errors, "direction", direction, Direction)
    _check_choice(errors, "outcome", outcome, Outcome, blank=True)
    if lead is None and contact is None and deal is None and company is None:
        errors["lead"] = _("Log it against a lead, contact, deal or company.")
    # A subject out of scope is refused as if it did not exist.
    subjects = {"lead": lead, "deal": deal, "contact": contact, "company": company}
    for field, subject in subjects.items():
        if subject is not None and not policy.may_see(by, subject):
            errors[field] = policy.does_not_exist(subject.pk)
    now = timezone.now()
    if done:
        occurred_at = _when_done(
            errors,
            occurred_at=occurred_at,
            duration_seconds=duration_seconds,
            now=now,
        )
    else:
        if due_at is None:
            errors["due_at"] = _("A planned activity needs a due time.")
        if occurred_at is not None:
            errors["occurred_at"] = _(
                "A planned activity has not happened yet: it is set when done."
            )
        if outcome:
            errors["outcome"] = _("A planned activity has no outcome yet.")
        if duration_seconds is not None:
            errors["duration_seconds"] = _("A planned activity has no duration yet.")
    errors.update(field_errors(Activity, {"due_at": due_at}, "due_at"))
    owner = owner or by
    if not policy.may_assign(by, owner):
        errors["owner"] = _("You cannot log an activity for this user.")
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        if lead is not None and done:
            # Locked so that the status read for the cold-call rule is the one the
            # activity is logged against (a concurrent capture may make it a lead).
            lead = Lead.objects.select_for_update().get(pk=lead.pk)
        activity = Activity.objects.create(
            kind=kind,
            direction=direction,
            outcome=outcome,
            is_cold_call=done
            and is_cold_call(kind=kind, direction=direction, lead=lead),
            done=done,
            due_at=due_at,
            occurred_at=occurred_at if done else None,
            duration_seconds=duration_seconds,
            lead=lead,
            contact=contact,
            deal=deal,
            company=company,
            owner=owner,
            notes=notes,
        )
        if done:
            pipeline_rollups.cold_call_add(activity)
            _record_engagement(activity, lead=lead, now=now)
            _promote_if_interested(activity, lead=lead, by=by)
    return activity


def activity_complete(
    *,
    activity: Activity,
    by: User,
    occurred_at: datetime.datetime | None = None,
    outcome: str = "",
    duration_seconds: int | None = None,
    notes: str | None = None,
    expected_version: ExpectedVersion = None,
) -> Activity:
    """Mark a planned activity done: it then counts as if logged at ``occurred_at``.

    Under the activity's lock and version (``If-Match``), by someone who may
    change it (``crm.policy``).
    """
    errors: dict[str, str] = {}
    _check_choice(errors, "outcome", outcome, Outcome, blank=True)
    now = timezone.now()
    occurred_at = _when_done(
        errors, occurred_at=occurred_at, duration_seconds=duration_seconds, now=now
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        activity = lock_version(activity, expected_version)
        if not policy.may_change(by, activity):
            raise PermissionDenied(_("This activity is outside your scope."))
        if activity.done:
            raise final_state(
                "done", _("This activity is already done."), code="activity_done"
            )
        lead = None
        if activity.lead_id is not None:
            # Locked for the cold-call rule, as when an activity is logged.
            lead = Lead.objects.select_for_update().get(pk=activity.lead_id)
        activity.done = True
        activity.occurred_at = occurred_at
        activity.outcome = outcome
        activity.duration_seconds = duration_seconds
        activity.is_cold_call = is_cold_call(
            kind=activity.kind, direction=activity.direction, lead=lead
        )
        changed = ["done", "occurred_at", "outcome", "duration_seconds", "is_cold_call"]
        if notes is not None:
            activity.notes = notes
            changed.append("notes")
        save_versioned(activity, changed)
        pipeline_rollups.cold_call_add(activity)
        _record_engagement(activity, lead=lead, now=now)
        _promote_if_interested(activity, lead=lead, by=by)
    return activity
