"""Write workflows of the pipeline: deals through the stages, and conversion.

Activities have their own module, ``pipeline.activities``.

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
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from crm import policy, reference, rollups, webhooks
from crm.errors import Conflict, final_state
from crm.models import Company, Contact, User, WebhookEventType
from crm.versioning import ExpectedVersion, lock_version, save_versioned
from leads.models import Channel, Lead, LeadStatus
from leads.services import lead_status_record
from pipeline import rollups as pipeline_rollups
from pipeline.activities import field_errors
from pipeline.guarded_move import move_in_place
from pipeline.history import deeper
from pipeline.models import (
    ALLOWED_MOVES,
    WIN_FROM,
    Deal,
    DealStatus,
    LostReason,
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

# Fields a closed deal keeps until it is reopened: its value is what was won.
CLOSED_DEAL_FIXED_FIELDS = ("amount", "currency")

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
            {
                field: _('"%(value)s" is not a stage; use one of: %(choices)s.')
                % {"value": value, "choices": choices}
            }
        ) from None


def _check_owner(*, owner: User, by: User) -> None:
    if not policy.may_assign(by, owner):
        raise ValidationError({"owner": _("You cannot assign a deal to this user.")})


def _clean_deal_fields(fields: dict[str, Any]) -> dict[str, Any]:
    errors = {}
    amount = fields.get("amount")
    if amount is not None and Decimal(amount) < 0:
        errors["amount"] = _("The amount cannot be negative.")
    probability = fields.get("probability")
    if probability is not None and not 0 <= probability <= 100:
        errors["probability"] = _("A probability is a percentage from 0 to 100.")
    currency = fields.get("currency")
    if currency is not None:
        try:
            fields["currency"] = reference.normalize_currency(currency)
        except ValidationError as exc:
            errors["currency"] = exc.messages[0]
    errors.update(field_errors(Deal, fields, "expected_close_on"))
    channel = fields.get("channel")
    if channel is not None and channel not in Channel.values:
        errors["channel"] = _("Use one of: %(values)s.") % {
            "values": ", ".join(Channel.values)
        }
    title = fields.get("title")
    if title is not None and not title.strip():
        errors["title"] = _("A deal needs a title.")
    contact, company = fields.get("contact"), fields.get("company")
    if contact and company and contact.company_id not in (None, company.pk):
        errors["contact"] = _("This contact works for another company.")
    if errors:
        raise ValidationError(errors)
    return fields


def _lock(deal: Deal, expected_version: ExpectedVersion, scope=None) -> Deal:
    """Lock the deal's row, then compare versions (in this order: see module doc).

    With ``scope`` (the deals the caller sees) a deal outside it raises
    ``Deal.DoesNotExist``.
    """
    return lock_version(deal, expected_version, scope=scope)


def _record(
    deal: Deal,
    *,
    from_stage: str,
    from_status: str,
    by: User | None,
    at,
    undone_close_at=None,
    funnel_before: dict | None,
) -> StageChange:
    """Append the history row of a transition with its rollup sums, its
    funnel count and its webhook event (``undone_close_at``: a reopening's
    standing close, see rollups; ``funnel_before``: the deal's ``funnel_row``
    before the change, None for a new deal).

    The row, its rollups and the event are one statement on PostgreSQL
    (``crm.rollups.insert_with``).
    """
    change = StageChange(
        deal=deal,
        from_stage=from_stage,
        to_stage=deal.stage,
        from_status=from_status,
        to_status=deal.status,
        changed_by=by,
        changed_at=at,
    )
    event = webhooks.event(
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
    rollups.insert_with(
        change,
        [
            *pipeline_rollups.change_rows(
                change, deal, undone_close_at=undone_close_at
            ),
            (
                pipeline_rollups.FUNNEL,
                pipeline_rollups.funnel_changes(funnel_before, deal),
            ),
        ],
        others=[event],
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
    deal: Deal,
    *,
    by: User,
    from_stage: str,
    from_status: str,
    fields: list[str],
    funnel_before: dict,
    undone_close_at=None,
) -> Deal:
    """Save a locked deal's transition, its history row and its funnel count
    (``funnel_before``: its ``funnel_row`` before the change)."""
    deal.version += 1
    deal.save(update_fields=[*fields, "version", "updated_at"])
    _record(
        deal,
        from_stage=from_stage,
        from_status=from_status,
        by=by,
        at=timezone.now(),
        undone_close_at=undone_close_at,
        funnel_before=funnel_before,
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
        owner = policy.default_owner(by)
        if owner is None:
            raise ValidationError({"owner": _("Choose the rep who owns this deal.")})
    _check_owner(owner=owner, by=by)
    if lead is not None:
        channel = lead.channel
    if not channel:
        raise ValidationError(
            {"channel": _("Say whether the deal is inbound or outbound.")}
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
            deepest_stage=stage,
            status=DealStatus.OPEN,
            stage_entered_at=now,
            **fields,
        )
        # The first row is dated with the deal's creation, which cycle-length
        # KPIs measure from.
        _record(
            deal,
            from_stage="",
            from_status="",
            by=by,
            at=deal.created_at,
            funnel_before=None,
        )
    return deal


def deal_update(
    *, deal: Deal, by: User, expected_version: ExpectedVersion = None, **changes: Any
) -> Deal:
    """Change a deal's plain fields (not its stage or status) and bump its version."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(
            dict.fromkeys(unknown, _("Change this through the deal's actions."))
        )
    changes = _clean_deal_fields(dict(changes))
    if changes.get("owner") is not None:
        _check_owner(owner=changes["owner"], by=by)
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        errors = {}
        if deal.lead_id is not None and changes.get("channel", deal.channel) != (
            deal.channel
        ):
            errors["channel"] = _("The channel comes from the lead.")
        if deal.status != DealStatus.OPEN:
            # What was won (or lost) is history that the KPIs report.
            for name in CLOSED_DEAL_FIXED_FIELDS:
                if name in changes and changes[name] != getattr(deal, name):
                    errors[name] = _(
                        "This deal is %(status)s: its %(field)s changes only "
                        "by reopening it."
                    ) % {
                        "status": deal.get_status_display().lower(),
                        "field": Deal._meta.get_field(name).verbose_name,
                    }
        if "contact" in changes or "company" in changes:
            # The pair as it will be, whichever side the request names (not
            # ``dict.get``: reading the deal's side is a query).
            contact = changes["contact"] if "contact" in changes else deal.contact  # noqa: SIM401
            company = changes["company"] if "company" in changes else deal.company  # noqa: SIM401
            if contact and company and contact.company_id not in (None, company.pk):
                errors["contact"] = _("This contact works for another company.")
        if errors:
            raise ValidationError(errors)
        # A new owner, amount... takes the deal's sums in the rollups along.
        with pipeline_rollups.deal_moving(deal.pk, changes):
            for name, value in changes.items():
                setattr(deal, name, value)
            deal.version += 1
            deal.save(update_fields=[*changes, "version", "updated_at"])
    return deal


def deal_move(
    *,
    deal: Deal,
    to_stage: str,
    by: User,
    expected_version: ExpectedVersion = None,
    scope: QuerySet[Deal] | None = None,
) -> Deal:
    """Move an open deal to another stage, forward or back.

    ``scope``: see ``_lock`` (the API locks the deal it was asked for in the
    caller's scope without reading it first). The move is first tried as one
    guarded ``UPDATE ... RETURNING`` (``pipeline.guarded_move``); when it
    updates nothing, the locking path below finds out why.
    """
    to_stage = _stage(to_stage)
    with transaction.atomic():
        moved = move_in_place(
            deal_id=deal.pk,
            to_stage=to_stage,
            expected_version=expected_version,
            scope=scope,
        )
        if moved is not None:  # the common case: every rule held, one statement
            deal, from_stage, deepest_before = moved
            _record(
                deal,
                from_stage=from_stage,
                from_status=DealStatus.OPEN,
                by=by,
                at=timezone.now(),
                funnel_before=pipeline_rollups.funnel_row(
                    deal, deepest=deepest_before, stage=from_stage
                ),
            )
            return deal
        # A rule is broken (or a race, or no history): lock, and say which.
        deal = _lock(deal, expected_version, scope)
        if deal.status != DealStatus.OPEN:
            raise Conflict(
                _("This deal is %(status)s; reopen it before moving it.")
                % {"status": deal.get_status_display().lower()},
                code="deal_closed",
            )
        if to_stage not in ALLOWED_MOVES[Stage(deal.stage)]:
            # No retry can make this move: the request itself is wrong.
            raise ValidationError(
                {
                    "stage": _("This deal is already in %(stage)s.")
                    % {"stage": to_stage.label}
                }
            )
        from_stage = deal.stage
        funnel_before = pipeline_rollups.funnel_row(deal)
        deal.stage = to_stage
        # The stage left counts too: a deal written without the services
        # (no history, hence this path) may be deeper than its deepest_stage.
        deal.deepest_stage = deeper(deal.deepest_stage, from_stage, to_stage)
        deal.stage_entered_at = timezone.now()
        return _save_transition(
            deal,
            by=by,
            from_stage=from_stage,
            from_status=DealStatus.OPEN,
            fields=["stage", "deepest_stage", "stage_entered_at"],
            funnel_before=funnel_before,
        )


def deal_win(*, deal: Deal, by: User, expected_version: ExpectedVersion = None) -> Deal:
    """Close an open deal in the closing stage as won."""
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.status != DealStatus.OPEN:
            raise Conflict(
                _("This deal is already %(status)s.")
                % {"status": deal.get_status_display().lower()},
                code="deal_closed",
            )
        if deal.stage not in WIN_FROM:
            raise Conflict(
                _(
                    "A deal is won only from the Closing stage; "
                    "this one is in %(stage)s."
                )
                % {"stage": Stage(deal.stage).label},
                code="win_not_from_closing",
            )
        funnel_before = pipeline_rollups.funnel_row(deal)
        deal.status = DealStatus.WON
        deal.closed_at = timezone.now()
        return _save_transition(
            deal,
            by=by,
            from_stage=deal.stage,
            from_status=DealStatus.OPEN,
            fields=["status", "closed_at"],
            funnel_before=funnel_before,
        )


def deal_lose(
    *,
    deal: Deal,
    by: User,
    reason: str,
    notes: str = "",
    expected_version: ExpectedVersion = None,
) -> Deal:
    """Close an open deal as lost, with a listed reason (``other`` needs notes)."""
    if reason not in LostReason.values:
        raise ValidationError(
            {
                "reason": _("Use one of: %(values)s.")
                % {"values": ", ".join(LostReason.values)}
            }
        )
    if reason == LostReason.OTHER and not notes.strip():
        raise ValidationError({"notes": _('Say why the deal was lost ("other").')})
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.status != DealStatus.OPEN:
            raise Conflict(
                _("This deal is already %(status)s.")
                % {"status": deal.get_status_display().lower()},
                code="deal_closed",
            )
        funnel_before = pipeline_rollups.funnel_row(deal)
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
            funnel_before=funnel_before,
        )


def deal_reopen(
    *,
    deal: Deal,
    by: User,
    stage: str | None = None,
    expected_version: ExpectedVersion = None,
) -> Deal:
    """Put a won or lost deal back into a stage (default: the one it closed in)."""
    to_stage = _stage(stage) if stage else None
    with transaction.atomic():
        deal = _lock(deal, expected_version)
        if deal.status == DealStatus.OPEN:
            raise Conflict(_("This deal is open already."), code="deal_open")
        from_stage, from_status = deal.stage, deal.status
        # The close this undoes, as its history row dated it (the rollup of
        # closes takes it back out of that day).
        undone_close_at = pipeline_rollups.standing_close_at(deal)
        funnel_before = pipeline_rollups.funnel_row(deal)
        deal.stage = to_stage or Stage(deal.stage)
        deal.deepest_stage = deeper(deal.deepest_stage, from_stage, deal.stage)
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
                "deepest_stage",
                "status",
                "closed_at",
                "lost_reason",
                "lost_notes",
                "stage_entered_at",
            ],
            funnel_before=funnel_before,
            undone_close_at=undone_close_at,
        )


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
    """Find the lead's contact by e-mail (case-insensitive), or create it.

    An existing contact gets the lead's company only if ``owner`` owns it.
    """
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
    # Linked, never edited, when someone else owns it: its owner's own PATCH
    # would be the only way to change it.
    mine = contact.owner_id == owner.pk
    if contact.company_id is None and company is not None and mine:
        contact = lock_version(contact)
        if contact.company_id is None:
            contact.company = company
            save_versioned(contact, ["company"])
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
    expected_version: ExpectedVersion = None,
) -> Deal:
    """Turn a qualified lead into a contact, a company and a deal, all or nothing.

    The deal starts in ``presentation`` by default: prospection and qualification
    happened while it was a lead.
    """
    stage = _stage(stage)
    with transaction.atomic():
        # Locked so that two concurrent conversions cannot both pass the check.
        lead = lock_version(lead, expected_version)
        if not policy.may_convert(by, lead):
            raise PermissionDenied(_("This lead is outside your scope."))
        if (
            lead.status == LeadStatus.CONVERTED
            or Deal.objects.filter(lead=lead).exists()
        ):
            # Converted for good: converting again can never succeed.
            raise final_state(
                "status", _("This lead already has a deal."), code="lead_converted"
            )
        if lead.status != LeadStatus.QUALIFIED:
            raise Conflict(
                _("Only a qualified lead converts; this one is %(status)s.")
                % {"status": lead.get_status_display().lower()},
                code="lead_not_qualified",
            )
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
        save_versioned(lead, ["status", "converted_at"])
        lead_status_record(
            lead=lead,
            from_status=LeadStatus.QUALIFIED,
            to_status=LeadStatus.CONVERTED,
            at=lead.converted_at,
            by=by,
            others=[
                webhooks.event(
                    WebhookEventType.LEAD_CONVERTED,
                    {
                        "lead": {"id": lead.pk, "email": lead.email},
                        **deal_payload(deal),
                    },
                )
            ],
        )
    return deal
