"""Write workflows of prospects and leads: creation, inbound capture, qualification
and reassignment. Conversion into a deal lives in ``pipeline.services`` (it creates
a ``pipeline.Deal``, and this app never imports ``pipeline``).
"""

from __future__ import annotations

import logging

from django.core.exceptions import (
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crm import webhooks
from crm.errors import Conflict
from crm.models import Role, Team, User, WebhookEventType
from crm.reference import normalize_email
from crm.visibility import assignable_owners_scope
from leads.models import (
    Channel,
    ContentOffer,
    Decision,
    DisqualificationReason,
    Lead,
    LeadStatus,
    Qualification,
    Source,
    Touch,
)
from leads.scoring import lead_score

logger = logging.getLogger(__name__)

# Statuses from which a qualification decision may be taken: a lead, or a lead
# already decided (re-qualification; the earlier decisions stay as rows).
DECIDABLE: frozenset[str] = frozenset(
    {LeadStatus.LEAD, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED}
)
# Statuses a record may be created with; the others are reached through decisions.
CREATABLE: frozenset[str] = frozenset({LeadStatus.PROSPECT, LeadStatus.LEAD})
# Fields a merge (capture, import) may fill when the record holds no value yet.
MERGEABLE_FIELDS = ("first_name", "last_name", "phone", "job_title", "company_name")


def _check_assignable(*, owner: User, by: User | None) -> None:
    """Refuse an owner outside ``by``'s scope (``by=None``: a trusted system job)."""
    scope = assignable_owners_scope(by) if by is not None else None
    allowed = User.objects.filter(pk=owner.pk, is_active=True)
    if scope is not None:
        allowed = allowed.filter(scope)
    if not allowed.exists():
        raise ValidationError({"owner": "You cannot assign a record to this user."})


def lead_payload(lead: Lead) -> dict:
    """Return the lead as webhook receivers get it."""
    return {
        "lead": {
            "id": lead.pk,
            "status": lead.status,
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "email": lead.email,
            "company_name": lead.company_name,
            "channel": lead.channel,
            "source": lead.source,
            "offer": lead.offer_id,
            "owner": lead.owner_id,
            "score": lead.score,
        }
    }


def lead_create(
    *,
    by: User,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    job_title: str = "",
    company_name: str = "",
    channel: str = Channel.OUTBOUND,
    source: str = Source.PROSPECT_LIST,
    status: str = LeadStatus.LEAD,
    owner: User | None = None,
    offer: ContentOffer | None = None,
    consent: bool = False,
) -> Lead:
    """Add a prospect or a lead by hand; the owner defaults to ``by``."""
    if status not in CREATABLE:
        raise ValidationError(
            {
                "status": "A record is created as a prospect or a lead; "
                "other statuses are reached through their actions."
            }
        )
    owner = owner or by
    _check_assignable(owner=owner, by=by)
    email = normalize_email(email)
    now = timezone.now()
    lead = Lead(
        status=status,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        job_title=job_title,
        company_name=company_name,
        channel=channel,
        source=source,
        owner=owner,
        offer=offer,
        consent=consent,
        became_lead_at=None if status == LeadStatus.PROSPECT else now,
    )
    duplicate = ValidationError({"email": "A lead with this e-mail already exists."})
    if email and Lead.objects.with_email(email).exists():
        raise duplicate
    try:
        with transaction.atomic():
            lead.save(force_insert=True)
            webhooks.emit(WebhookEventType.LEAD_CREATED, lead_payload(lead))
    except IntegrityError as exc:
        # Someone inserted the same e-mail between the check and the insert.
        raise duplicate from exc
    return lead


def _next_inbound_owner() -> User:
    """Return the owner of a new inbound lead and advance the round robin.

    Round robin among the active reps (ordered by id) of the team with
    ``handles_inbound``; the team row is locked so that two captures never get
    the same turn. Fallback, so that a capture is never lost: that team's
    manager if it has no active rep, else the first active superuser, else the
    first active manager.
    """
    team = Team.objects.select_for_update().filter(handles_inbound=True).first()
    if team is not None:
        reps = list(
            User.objects.filter(team=team, role=Role.REP, is_active=True).order_by("pk")
        )
        if reps:
            owner = reps[team.inbound_cursor % len(reps)]
            team.inbound_cursor = (team.inbound_cursor + 1) % len(reps)
            team.save(update_fields=["inbound_cursor", "updated_at"])
            return owner
        if team.manager.is_active:
            logger.warning("Inbound team %s has no active rep: lead to manager", team)
            return team.manager
    fallback = (
        User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
        or User.objects.filter(is_active=True, role=Role.MANAGER).order_by("pk").first()
    )
    if fallback is None:
        raise ImproperlyConfigured("No active user can receive inbound leads.")
    logger.warning("No inbound team or rep: inbound lead assigned to %s", fallback)
    return fallback


def _merge_into(lead: Lead, values: dict[str, str]) -> list[str]:
    """Fill the lead's blank fields from ``values``; return the changed fields.

    Data already held (possibly corrected by a rep) is never overwritten.
    """
    changed = []
    for field in MERGEABLE_FIELDS:
        value = values.get(field) or ""
        if value and not getattr(lead, field):
            setattr(lead, field, value)
            changed.append(field)
    return changed


def lead_capture(
    *,
    offer: ContentOffer,
    first_name: str,
    last_name: str,
    email: str,
    company: str,
    job_title: str,
    phone: str,
    consent: bool,
    ip_address: str | None,
    page_url: str,
    user_agent: str,
) -> Lead:
    """Record an inbound content capture: create or update the one lead of this
    e-mail, record the touch, and assign a new lead's owner by round robin.

    A prospect who captures becomes a lead. When two captures of a new e-mail
    race, the loser's insert hits the unique index on ``Lower(email)``; its
    savepoint is rolled back (with its round-robin turn) and it retries as an
    update of the winner's row, so neither request is lost.
    """
    email = normalize_email(email)
    values = {
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "job_title": job_title,
        "company_name": company,
    }
    now = timezone.now()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().with_email(email).first()
        if lead is None:
            try:
                with transaction.atomic():  # savepoint: the race is recoverable
                    lead = Lead(
                        status=LeadStatus.LEAD,
                        email=email,
                        channel=Channel.INBOUND,
                        source=Source.CONTENT_DOWNLOAD,
                        offer=offer,
                        owner=_next_inbound_owner(),
                        consent=consent,
                        became_lead_at=now,
                        touch_count=1,
                        **values,
                    )
                    lead.save(force_insert=True)
                    webhooks.emit(WebhookEventType.LEAD_CREATED, lead_payload(lead))
            except IntegrityError:
                # A concurrent capture inserted this e-mail first: update it.
                logger.info("Concurrent capture of one e-mail: retried as update")
                lead = Lead.objects.select_for_update().with_email(email).get()
            else:
                _record_touch(lead, offer, now, ip_address, page_url, user_agent)
                return lead
        changed = _merge_into(lead, values)
        if lead.status == LeadStatus.PROSPECT:
            lead.status = LeadStatus.LEAD
            lead.became_lead_at = now
            changed += ["status", "became_lead_at"]
        if lead.offer_id is None:
            lead.offer = offer
            changed.append("offer")
        if consent and not lead.consent:
            lead.consent = True
            changed.append("consent")
        lead.touch_count = F("touch_count") + 1
        lead.save(update_fields=[*changed, "touch_count", "updated_at"])
        lead.refresh_from_db(fields=["touch_count"])
        _record_touch(lead, offer, now, ip_address, page_url, user_agent)
    return lead


def _record_touch(lead, offer, now, ip_address, page_url, user_agent) -> Touch:
    return Touch.objects.create(
        lead=lead,
        offer=offer,
        channel=Channel.INBOUND,
        source=Source.CONTENT_DOWNLOAD,
        occurred_at=now,
        ip_address=ip_address,
        page_url=page_url[:500],
        user_agent=user_agent[:300],
    )


def _lock_decidable(lead: Lead) -> Lead:
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if locked.status == LeadStatus.PROSPECT:
        raise Conflict(
            "A prospect cannot be qualified: it must become a lead first.",
            code="not_a_lead",
        )
    if locked.status not in DECIDABLE:
        raise Conflict(
            f"A {locked.get_status_display().lower()} lead cannot be "
            "qualified or disqualified.",
            code="not_decidable",
        )
    return locked


def lead_qualify(
    *,
    lead: Lead,
    by: User,
    budget: bool,
    authority: bool,
    need: bool,
    timeline: bool,
    notes: str = "",
) -> Lead:
    """Qualify a lead on its BANT criteria, recording the decision and its score."""
    return _decide(
        lead=lead,
        by=by,
        decision=Decision.QUALIFIED,
        criteria={
            "budget": budget,
            "authority": authority,
            "need": need,
            "timeline": timeline,
        },
        notes=notes,
    )


def lead_disqualify(*, lead: Lead, by: User, reason: str, notes: str = "") -> Lead:
    """Disqualify a lead for a reason of the fixed list (``other`` needs notes).

    The decision records no BANT criterion met: its score is engagement only.
    """
    if reason not in DisqualificationReason.values:
        raise ValidationError({"reason": "Choose a reason from the list."})
    if reason == DisqualificationReason.OTHER and not notes.strip():
        raise ValidationError({"notes": "Explain the reason when it is 'other'."})
    return _decide(
        lead=lead,
        by=by,
        decision=Decision.DISQUALIFIED,
        criteria=dict.fromkeys(("budget", "authority", "need", "timeline"), False),
        reason=reason,
        notes=notes,
    )


def _decide(
    *,
    lead: Lead,
    by: User,
    decision: str,
    criteria: dict[str, bool],
    notes: str,
    reason: str = "",
) -> Lead:
    """Record a decision with its score, and move the lead to its status."""
    qualified = decision == Decision.QUALIFIED
    with transaction.atomic():
        lead = _lock_decidable(lead)
        now = timezone.now()
        score = lead_score(
            **criteria,
            touch_count=lead.touch_count,
            activity_count=lead.activity_count,
        )
        Qualification.objects.create(
            lead=lead,
            decision=decision,
            score=score,
            reason=reason,
            notes=notes,
            decided_by=by,
            decided_at=now,
            **criteria,
        )
        lead.status = LeadStatus.QUALIFIED if qualified else LeadStatus.DISQUALIFIED
        lead.score = score
        # Each timestamp holds the current decision; the history is the rows.
        lead.qualified_at = now if qualified else None
        lead.disqualified_at = None if qualified else now
        lead.save(
            update_fields=[
                "status",
                "score",
                "qualified_at",
                "disqualified_at",
                "updated_at",
            ]
        )
        if qualified:
            webhooks.emit(WebhookEventType.LEAD_QUALIFIED, lead_payload(lead))
    return lead


def lead_reassign(*, lead: Lead, to: User, by: User) -> Lead:
    """Give a lead to another owner; both the lead and ``to`` must be in scope."""
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if not Lead.objects.visible_to(by).filter(pk=locked.pk).exists():
            raise PermissionDenied("This lead is outside your scope.")
        _check_assignable(owner=to, by=by)
        if locked.owner_id != to.pk:
            locked.owner = to
            locked.save(update_fields=["owner", "updated_at"])
    return locked
