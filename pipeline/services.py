"""Write workflows of the pipeline: deals through the stages, activities, conversion.

Each function runs in one transaction, locks the rows it changes, validates,
saves with ``update_fields`` and writes its history row. The optimistic version
check happens *after* the row lock, so of two concurrent writers holding the same
version exactly one succeeds and the other gets ``StaleVersion``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.text import Truncator

from crm import reference, webhooks
from crm.errors import Conflict, StaleVersion
from crm.models import Company, Contact, Role, User, WebhookEventType
from crm.visibility import assignable_owners_scope
from leads.models import Channel, Lead, LeadStatus
from leads.models import Touch as LeadTouch
from pipeline.models import (
    ALLOWED_MOVES,
    LOSE_FROM,
    WIN_FROM,
    Activity,
    ActivityKind,
    Deal,
    DealStatus,
    Direction,
    LostReason,
    Outcome,
    Stage,
    StageChange,
)

# Fields a plain update may change; stage and status only change through the
# transition functions below.
UPDATABLE_FIELDS = frozenset(
    {
        "title",
        "owner",
        "company",
        "contact",
        "channel",
        "amount",
        "currency",
        "probability",
        "expected_close_on",
    }
)

# Personal mailboxes: their domain says nothing about the lead's company.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.fr",
        "hotmail.com",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "proton.me",
        "protonmail.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "wanadoo.fr",
        "uol.com.br",
        "bol.com.br",
        "mail.ru",
        "yandex.ru",
    }
)


# --- validation helpers ---------------------------------------------------------


def _stage(value: str, field: str = "stage") -> Stage:
    try:
        return Stage(value)
    except ValueError:
        choices = ", ".join(Stage.values)
        raise ValidationError(
            {field: f'"{value}" is not a stage; use one of: {choices}.'}
        ) from None


def _check_owner(*, owner: User, by: User) -> None:
    if not User.objects.filter(assignable_owners_scope(by), pk=owner.pk).exists():
        raise ValidationError({"owner": "You cannot assign a deal to this user."})


def _clean_deal_fields(fields: dict[str, Any]) -> dict[str, Any]:
    errors = {}
    amount = fields.get("amount")
    if amount is not None and Decimal(amount) < 0:
        errors["amount"] = "The amount cannot be negative."
    probability = fields.get("probability")
    if probability is not None and not 0 <= probability <= 100:
        errors["probability"] = "A probability is a percentage from 0 to 100."
    currency = fields.get("currency")
    if currency is not None:
        try:
            fields["currency"] = reference.normalize_currency(currency)
        except ValidationError as exc:
            errors["currency"] = exc.messages[0]
    errors.update(_field_errors(Deal, fields, "expected_close_on"))
    channel = fields.get("channel")
    if channel is not None and channel not in Channel.values:
        errors["channel"] = f"Use one of: {', '.join(Channel.values)}."
    title = fields.get("title")
    if title is not None and not title.strip():
        errors["title"] = "A deal needs a title."
    contact, company = fields.get("contact"), fields.get("company")
    if contact and company and contact.company_id not in (None, company.pk):
        errors["contact"] = "This contact works for another company."
    if errors:
        raise ValidationError(errors)
    return fields


def _field_errors(model, values: dict[str, Any], *names: str) -> dict[str, str]:
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


def _lock(deal: Deal, expected_version: int | None) -> Deal:
    """Lock the deal's row, then compare versions (in this order: see module doc)."""
    locked = Deal.objects.select_for_update().get(pk=deal.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion(
            f"This deal changed since version {expected_version}; "
            f"it is now at version {locked.version}.",
            current=locked,
        )
    return locked


def _record(
    deal: Deal, *, from_stage: str, from_status: str, by: User | None, at
) -> StageChange:
    """Append the history row of a transition and its webhook event."""
    change = StageChange.objects.create(
        deal=deal,
        from_stage=from_stage,
        to_stage=deal.stage,
        from_status=from_status,
        to_status=deal.status,
        changed_by=by,
        changed_at=at,
    )
    webhooks.emit(
        _event_type(change),
        {
            **deal_payload(deal),
            "change": {
                "from_stage": change.from_stage,
                "to_stage": change.to_stage,
                "from_status": change.from_status,
                "to_status": change.to_status,
                "by": by.pk if by else None,
                "at": change.changed_at,
            },
        },
    )
    return change


def _event_type(change: StageChange) -> str:
    if not change.from_stage:
        return WebhookEventType.DEAL_CREATED
    if change.to_status == DealStatus.WON:
        return WebhookEventType.DEAL_WON
    if change.to_status == DealStatus.LOST:
        return WebhookEventType.DEAL_LOST
    return WebhookEventType.DEAL_STAGE_CHANGED


def deal_payload(deal: Deal) -> dict[str, Any]:
    """Return the deal as webhook receivers get it (ids for related records)."""
    return {
        "deal": {
            "id": deal.pk,
            "title": deal.title,
            "owner": deal.owner_id,
            "company": deal.company_id,
            "contact": deal.contact_id,
            "lead": deal.lead_id,
            "channel": deal.channel,
            "amount": deal.amount,
            "currency": deal.currency,
            "stage": deal.stage,
            "status": deal.status,
            "version": deal.version,
        }
    }


def _save_transition(
    deal: Deal, *, by: User, from_stage: str, from_status: str, fields: list[str]
) -> Deal:
    deal.version += 1
    deal.save(update_fields=[*fields, "version", "updated_at"])
    _record(
        deal,
        from_stage=from_stage,
        from_status=from_status,
        by=by,
        at=timezone.now(),
    )
    return deal


# --- deals ------------------------------------------------------------------------


def deal_create(
    *,
    by: User,
    title: str,
    channel: str | None = None,
    amount: Decimal = Decimal(0),
    owner: User | None = None,
    currency: str | None = None,
    company: Company | None = None,
    contact: Contact | None = None,
    lead: Lead | None = None,
    probability: int | None = None,
    expected_close_on: datetime.date | None = None,
    stage: str = Stage.PROSPECTION,
) -> Deal:
    """Create an open deal in a stage and record its first history row."""
    stage = _stage(stage)
    if owner is None:
        if by.role not in (Role.REP, Role.MANAGER):
            raise ValidationError({"owner": "Choose the rep who owns this deal."})
        owner = by
    _check_owner(owner=owner, by=by)
    if lead is not None:
        channel = lead.channel
    if not channel:
        raise ValidationError(
            {"channel": "Say whether the deal is inbound or outbound."}
        )
    fields = _clean_deal_fields(
        {
            "title": title,
            "amount": amount,
            "currency": currency or settings.CRM_DEFAULT_CURRENCY,
            "probability": probability,
            "channel": channel,
            "company": company,
            "contact": contact,
            "expected_close_on": expected_close_on,
        }
    )
    now = timezone.now()
    with transaction.atomic():
        deal = Deal.objects.create(
            owner=owner,
            lead=lead,
            stage=stage,
            status=DealStatus.OPEN,
            stage_entered_at=now,
            **fields,
        )
        # The first row is dated with the deal's creation, which cycle-length
        # KPIs measure from.
        _record(deal, from_stage="", from_status="", by=by, at=deal.created_at)
    return deal


def deal_update(
    *, deal: Deal, by: User, expected_version: int | None = None, **changes: Any
) -> Deal:
    """Change a deal's plain fields (not its stage or status) and bump its version."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(
            dict.fromkeys(unknown, "Change this through the deal's actions.")
        )
    changes = _clean_deal_fields(dict(changes))
    if changes.get("owner") is not None:
        _check_owner(owner=changes["owner"], by=by)
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.lead_id is not None and changes.get("channel", deal.channel) != (
            deal.channel
        ):
            raise ValidationError({"channel": "The channel comes from the lead."})
        for name, value in changes.items():
            setattr(deal, name, value)
        deal.version += 1
        deal.save(update_fields=[*changes, "version", "updated_at"])
    return deal


def deal_move(
    *, deal: Deal, to_stage: str, by: User, expected_version: int | None = None
) -> Deal:
    """Move an open deal to another stage, forward or back."""
    to_stage = _stage(to_stage)
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.status != DealStatus.OPEN:
            raise Conflict(
                f"This deal is {deal.status}; reopen it before moving it.",
                code="deal_closed",
            )
        if to_stage not in ALLOWED_MOVES[Stage(deal.stage)]:
            raise Conflict(
                f"This deal is already in {to_stage.label}.", code="same_stage"
            )
        from_stage = deal.stage
        deal.stage = to_stage
        deal.stage_entered_at = timezone.now()
        return _save_transition(
            deal,
            by=by,
            from_stage=from_stage,
            from_status=DealStatus.OPEN,
            fields=["stage", "stage_entered_at"],
        )


def deal_win(*, deal: Deal, by: User, expected_version: int | None = None) -> Deal:
    """Close an open deal in the closing stage as won."""
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.status != DealStatus.OPEN:
            raise Conflict(f"This deal is already {deal.status}.", code="deal_closed")
        if deal.stage not in WIN_FROM:
            raise Conflict(
                "A deal is won only from the Closing stage; "
                f"this one is in {Stage(deal.stage).label}.",
                code="win_not_from_closing",
            )
        deal.status = DealStatus.WON
        deal.closed_at = timezone.now()
        return _save_transition(
            deal,
            by=by,
            from_stage=deal.stage,
            from_status=DealStatus.OPEN,
            fields=["status", "closed_at"],
        )


def deal_lose(
    *,
    deal: Deal,
    by: User,
    reason: str,
    notes: str = "",
    expected_version: int | None = None,
) -> Deal:
    """Close an open deal as lost, with a listed reason (``other`` needs notes)."""
    if reason not in LostReason.values:
        raise ValidationError(
            {"reason": f"Use one of: {', '.join(LostReason.values)}."}
        )
    if reason == LostReason.OTHER and not notes.strip():
        raise ValidationError({"notes": 'Say why the deal was lost ("other").'})
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.status != DealStatus.OPEN or deal.stage not in LOSE_FROM:
            raise Conflict(f"This deal is already {deal.status}.", code="deal_closed")
        deal.status = DealStatus.LOST
        deal.lost_reason = reason
        deal.lost_notes = notes
        deal.closed_at = timezone.now()
        return _save_transition(
            deal,
            by=by,
            from_stage=deal.stage,
            from_status=DealStatus.OPEN,
            fields=["status", "lost_reason", "lost_notes", "closed_at"],
        )


def deal_reopen(
    *,
    deal: Deal,
    by: User,
    stage: str | None = None,
    expected_version: int | None = None,
) -> Deal:
    """Put a won or lost deal back into a stage (default: the one it closed in)."""
    to_stage = _stage(stage) if stage else None
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.status == DealStatus.OPEN:
            raise Conflict("This deal is open already.", code="deal_open")
        from_stage, from_status = deal.stage, deal.status
        deal.stage = to_stage or Stage(deal.stage)
        deal.status = DealStatus.OPEN
        deal.closed_at = None
        deal.lost_reason = ""
        deal.lost_notes = ""
        deal.stage_entered_at = timezone.now()
        return _save_transition(
            deal,
            by=by,
            from_stage=from_stage,
            from_status=from_status,
            fields=[
                "stage",
                "status",
                "closed_at",
                "lost_reason",
                "lost_notes",
                "stage_entered_at",
            ],
        )


# --- activities ---------------------------------------------------------------


def _check_choice(errors: dict, field: str, value: str, choices, *, blank=False):
    if (blank and value == "") or value in choices.values:
        return
    errors[field] = f"Use one of: {', '.join(choices.values)}."


def is_cold_call(*, kind: str, direction: str, lead: Lead | None) -> bool:
    """Return whether a call is cold: outbound, to a prospect never inbound."""
    return (
        kind == ActivityKind.CALL
        and direction == Direction.OUTBOUND
        and lead is not None
        and lead.status == LeadStatus.PROSPECT
        and not LeadTouch.objects.filter(lead=lead, channel=Channel.INBOUND).exists()
    )


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
        errors["occurred_at"] = (
            "A done activity cannot happen in the future; "
            "plan it instead (done: false, with due_at)."
        )
    errors.update(
        _field_errors(
            Activity,
            {"occurred_at": occurred_at, "duration_seconds": duration_seconds},
            "occurred_at",
            "duration_seconds",
        )
    )
    return occurred_at


def _record_engagement(activity: Activity, *, now: datetime.datetime) -> None:
    """Count a done activity on its lead and deal (callers hold the lead's lock)."""
    occurred_at = activity.occurred_at
    if activity.lead_id is not None:
        Lead.objects.filter(pk=activity.lead_id).update(
            activity_count=F("activity_count") + 1,
            # The earliest, even for a backdated activity: lead response
            # time is measured to it.
            first_activity_at=Least(
                Coalesce("first_activity_at", Value(occurred_at)),
                Value(occurred_at),
            ),
            last_activity_at=Greatest(
                Coalesce("last_activity_at", Value(occurred_at)),
                Value(occurred_at),
            ),
            updated_at=now,
        )
    if activity.deal_id is not None:
        # Not a version bump: logging a call must not make a rep's open form
        # on the deal stale.
        Deal.objects.filter(pk=activity.deal_id).update(
            last_activity_at=Greatest(
                Coalesce("last_activity_at", Value(occurred_at)),
                Value(occurred_at),
            )
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
    if lead is None and contact is None and deal is None:
        errors["lead"] = "Log it against a lead, contact or deal."
    if lead is not None and not Lead.objects.visible_to(by).filter(pk=lead.pk).exists():
        errors["lead"] = "This lead is not in your scope."
    if deal is not None and not Deal.objects.visible_to(by).filter(pk=deal.pk).exists():
        errors["deal"] = "This deal is not in your scope."
    if contact is not None and not (
        Contact.objects.visible_to(by).filter(pk=contact.pk).exists()
    ):
        errors["contact"] = "This contact is not in your scope."
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
            errors["due_at"] = "A planned activity needs a due time."
        if occurred_at is not None:
            errors["occurred_at"] = (
                "A planned activity has not happened yet: it is set when done."
            )
        if outcome:
            errors["outcome"] = "A planned activity has no outcome yet."
        if duration_seconds is not None:
            errors["duration_seconds"] = "A planned activity has no duration yet."
    errors.update(_field_errors(Activity, {"due_at": due_at}, "due_at"))
    owner = owner or by
    if not User.objects.filter(assignable_owners_scope(by), pk=owner.pk).exists():
        errors["owner"] = "You cannot log an activity for this user."
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
            owner=owner,
            notes=notes,
        )
        if done:
            _record_engagement(activity, now=now)
    return activity


def activity_complete(
    *,
    activity: Activity,
    by: User,
    occurred_at: datetime.datetime | None = None,
    outcome: str = "",
    duration_seconds: int | None = None,
    notes: str | None = None,
) -> Activity:
    """Mark a planned activity done: it then counts as if logged at ``occurred_at``."""
    errors: dict[str, str] = {}
    _check_choice(errors, "outcome", outcome, Outcome, blank=True)
    now = timezone.now()
    occurred_at = _when_done(
        errors, occurred_at=occurred_at, duration_seconds=duration_seconds, now=now
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        activity = Activity.objects.select_for_update().get(pk=activity.pk)
        if activity.done:
            raise Conflict("This activity is already done.", code="activity_done")
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
        activity.save(update_fields=changed)
        _record_engagement(activity, now=now)
    return activity


# --- lead conversion ------------------------------------------------------------


def _company_for(lead: Lead, *, owner: User) -> Company | None:
    """Find the lead's company by e-mail domain (unless free mail), else by name."""
    domain = lead.email.rpartition("@")[2].strip().lower() if lead.email else ""
    if domain in FREE_MAIL_DOMAINS:
        domain = ""
    if domain:
        company = Company.objects.filter(domain__iexact=domain).first()
        if company is not None:
            return company
    name = lead.company_name.strip()
    if name:
        company = Company.objects.filter(name__iexact=name).order_by("pk").first()
        if company is not None:
            return company
    if not (name or domain):
        return None
    return Company.objects.create(name=name or domain, domain=domain, owner=owner)


def _contact_for(lead: Lead, *, company: Company | None, owner: User) -> Contact:
    """Find the lead's contact by e-mail (case-insensitive), or create it."""
    contact = None
    if lead.email:
        contact = Contact.objects.filter(email__iexact=lead.email).first()
    if contact is None:
        return Contact.objects.create(
            first_name=lead.first_name or lead.email.partition("@")[0],
            last_name=lead.last_name,
            email=lead.email.lower(),
            phone=lead.phone,
            job_title=lead.job_title,
            company=company,
            owner=owner,
        )
    if contact.company_id is None and company is not None:
        contact.company = company
        contact.save(update_fields=["company", "updated_at"])
    return contact


def _deal_title(subject: Company | Contact) -> str:
    """Name a converted lead's deal after its company or contact, within the
    title's length (a company name may use all of it)."""
    suffix = " deal"
    limit = Deal._meta.get_field("title").max_length - len(suffix)
    return Truncator(str(subject)).chars(limit) + suffix


def lead_convert(
    *,
    lead: Lead,
    by: User,
    title: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    expected_close_on: datetime.date | None = None,
    stage: str = Stage.PRESENTATION,
) -> Deal:
    """Turn a qualified lead into a contact, a company and a deal, all or nothing.

    The deal starts in ``presentation`` by default: prospection and qualification
    happened while it was a lead.
    """
    stage = _stage(stage)
    with transaction.atomic():
        # Locked so that two concurrent conversions cannot both pass the check.
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.status != LeadStatus.QUALIFIED:
            raise Conflict(
                f"Only a qualified lead converts; this one is {lead.status}.",
                code="lead_not_qualified",
            )
        if Deal.objects.filter(lead=lead).exists():
            raise Conflict("This lead already has a deal.", code="lead_converted")
        company = _company_for(lead, owner=lead.owner)
        contact = _contact_for(lead, company=company, owner=lead.owner)
        deal = deal_create(
            by=by,
            owner=lead.owner,
            title=title or _deal_title(company or contact),
            amount=amount if amount is not None else Decimal(0),
            currency=currency,
            company=company,
            contact=contact,
            lead=lead,
            expected_close_on=expected_close_on,
            stage=stage,
        )
        lead.status = LeadStatus.CONVERTED
        lead.converted_at = timezone.now()
        lead.save(update_fields=["status", "converted_at", "updated_at"])
        webhooks.emit(
            WebhookEventType.LEAD_CONVERTED,
            {"lead": {"id": lead.pk, "email": lead.email}, **deal_payload(deal)},
        )
    return deal
