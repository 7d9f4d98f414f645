"""Write workflows of prospects and leads: creation, inbound capture, qualification
and reassignment. Conversion into a deal lives in ``pipeline.services`` (it creates
a ``pipeline.Deal``, and this app never imports ``pipeline``).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Any

from django.core import signing
from django.core.exceptions import (
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.db import (
    IntegrityError,
    connection,
    connections,
    models,
    router,
    transaction,
)
from django.db.models import Min
from django.db.models.constants import OnConflict
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from crm import policy, rollups, webhooks
from crm.errors import Conflict, final_state
from crm.models import Role, Team, User, WebhookEventType
from crm.reference import normalize_email
from crm.versioning import ExpectedVersion, differs, lock_version, save_versioned
from leads import consent as double_opt_in
from leads import rollups as lead_rollups
from leads.models import (
    CONSENT_TEXT,
    Channel,
    ConsentAction,
    ConsentRecord,
    ContentOffer,
    Decision,
    DisqualificationReason,
    Lead,
    LeadStatus,
    LeadStatusChange,
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
# Fields a plain update may change; status, score, the timestamps and the
# engagement counters change only through the services below (and
# ``pipeline.services``), so a generic update can never put an old value back.
UPDATABLE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "job_title",
        "company_name",
        "channel",
        "source",
        "offer",
        "owner",
    }
)
# Fields an import's merge may fill when the record holds no value yet (a public
# capture fills none: it records a touch, see lead_capture).
MERGEABLE_FIELDS = ("first_name", "last_name", "phone", "job_title", "company_name")


def _check_assignable(*, owner: User, by: User | None) -> None:
    """Refuse an owner outside ``by``'s scope (``by=None``: a trusted system job)."""
    allowed = (
        policy.may_assign(by, owner)
        if by is not None
        else User.objects.filter(pk=owner.pk, is_active=True).exists()
    )
    if not allowed:
        raise ValidationError({"owner": _("You cannot assign a record to this user.")})


def lead_status_record(
    *,
    lead: Lead,
    from_status: str,
    to_status: str,
    at: datetime.datetime,
    by: User | None,
    also: rollups.Increments = (),
    others: Iterable[models.Model] = (),
) -> LeadStatusChange:
    """Append the history row of a status change (call it in the change's
    transaction; ``from_status`` is blank for what a record is created as).

    With its day's count in the daily rollups, ``also`` (the same change's
    other rollup rows, such as a new lead's count) and ``others``, the
    change's other new rows whose ids nobody reads (its webhook event, built
    by ``crm.webhooks.event``; a capture's touch): one statement on
    PostgreSQL (``crm.rollups.insert_with``).
    """
    change = LeadStatusChange(
        lead=lead,
        from_status=from_status,
        to_status=to_status,
        changed_at=at,
        changed_by=by,
    )
    rollups.insert_with(
        change,
        [*lead_rollups.status_changes(change, lead), *also],
        others=others,
    )
    return change


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
                "status": _(
                    "A record is created as a prospect or a lead; "
                    "other statuses are reached through their actions."
                )
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
    # No existence check first: the unique index on the e-mail refuses a
    # duplicate (one query less on every create, and no race to lose).
    try:
        with transaction.atomic():
            lead.save(force_insert=True)
            lead_status_record(
                lead=lead,
                from_status="",
                to_status=status,
                at=now,
                by=by,
                also=lead_rollups.lead_changes(None, lead),
                others=[
                    webhooks.event(WebhookEventType.LEAD_CREATED, lead_payload(lead))
                ],
            )
            if consent:
                # Entered by a user, who answers for it: no confirmation round.
                ConsentRecord.objects.create(
                    lead=lead,
                    action=ConsentAction.GIVEN,
                    recorded_at=now,
                    offer=offer,
                    text=CONSENT_TEXT,
                    recorded_by=by,
                )
    except IntegrityError as exc:
        if email and Lead.objects.with_email(email).exists():
            raise ValidationError(
                {"email": _("A lead with this e-mail already exists.")}
            ) from exc
        raise
    return lead


def _round_robin_sql() -> str:
    """Return the statement taking the inbound team's next turn (see below).

    Built from the models' own table and column names, never from input.
    """
    team, user = Team._meta, User._meta
    reps = (
        f"FROM {user.db_table} u WHERE u.team_id = {team.db_table}.id "
        "AND u.role = %s AND u.is_active"
    )
    count = f"(SELECT COUNT(*) {reps})"
    # A rep's place in the turn: how many active reps of the team precede it.
    place = (
        f"(SELECT COUNT(*) FROM {user.db_table} v WHERE v.team_id = u.team_id "  # noqa: S608  # nosec B608
        "AND v.role = u.role AND v.is_active AND v.id < u.id)"
    )
    return (
        f"UPDATE {team.db_table} SET inbound_cursor = "  # noqa: S608  # nosec B608
        f"COALESCE((inbound_cursor + 1) %% NULLIF({count}, 0), 0) "
        f"WHERE id = (SELECT t.id FROM {team.db_table} t WHERE t.handles_inbound "
        "ORDER BY t.name, t.id LIMIT 1) "
        # The rep whose turn it was: the cursor before the update is the new
        # one minus 1, modulo the number of reps.
        f"RETURNING (SELECT u.id {reps} AND {place} = "
        f"({team.db_table}.inbound_cursor + {count} - 1) %% NULLIF({count}, 0)), "
        f"manager_id, (SELECT m.is_active FROM {user.db_table} m "
        f"WHERE m.id = {team.db_table}.manager_id), name"
    )


def _next_inbound_owner() -> int:
    """Return the owner id of a new inbound lead and advance the round robin.

    Round robin among the active reps (ordered by id) of the team with
    ``handles_inbound``. One statement: the ``UPDATE`` of the team's cursor
    locks its row (two captures never get the same turn) and returns whose
    turn it was. Fallback, so that a capture is never lost: that team's
    manager if it has no active rep, else the first active superuser, else the
    first active manager.
    """
    role = Role.REP.value
    with connection.cursor() as cursor:
        cursor.execute(_round_robin_sql(), [role] * 4)
        row = cursor.fetchone()
    if row is not None:
        rep_id, manager_id, manager_active, name = row
        if rep_id is not None:
            return rep_id
        if manager_active:
            logger.warning("Inbound team %s has no active rep: lead to manager", name)
            return manager_id
    fallback = (
        User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
        or User.objects.filter(is_active=True, role=Role.MANAGER).order_by("pk").first()
    )
    if fallback is None:
        raise ImproperlyConfigured(_("No active user can receive inbound leads."))
    logger.warning("No inbound team or rep: inbound lead assigned to %s", fallback)
    return fallback.pk


def _insert_unless_known(lead: Lead) -> bool:
    """Insert a new lead unless its e-mail is taken; return whether it was.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` (SQLite: ``INSERT
    OR IGNORE``): a concurrent capture of the same e-mail makes it insert
    nothing rather than fail, so the transaction goes on without a savepoint.
    """
    db = router.db_for_write(Lead)
    query = InsertQuery(Lead, on_conflict=OnConflict.IGNORE)
    query.insert_values(
        [
            f
            for f in Lead._meta.concrete_fields
            if not f.primary_key and not f.generated  # search_text: the database's
        ],
        [lead],
    )
    compiler = query.get_compiler(using=db)
    compiler.returning_fields = [Lead._meta.pk, Lead._meta.get_field("owner")]
    ((sql, params),) = compiler.as_sql()
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    lead.pk, lead.owner_id = row
    lead._state.adding, lead._state.db = False, db
    return True


def _owner_whose_turn_it_is() -> RawSQL:
    """Return SQL for the rep whose turn it is, without taking the turn.

    The new lead is inserted with it (see ``lead_capture``), any active user
    when the inbound team has no rep; ``_next_inbound_owner`` then takes the
    turn and says whose it was, which is this one unless a concurrent capture
    took it in between (or a fallback applies): the owner is then corrected.
    """
    team, user = Team._meta, User._meta
    reps = (
        f"FROM {user.db_table} u WHERE u.team_id = t.id AND u.role = %s AND u.is_active"
    )
    place = (
        f"(SELECT COUNT(*) FROM {user.db_table} v WHERE v.team_id = u.team_id "  # noqa: S608  # nosec B608
        "AND v.role = u.role AND v.is_active AND v.id < u.id)"
    )
    return RawSQL(  # noqa: S611  # nosec B611
        f"COALESCE((SELECT (SELECT u.id {reps} AND {place} = "  # noqa: S608  # nosec B608
        f"t.inbound_cursor %% NULLIF((SELECT COUNT(*) {reps}), 0)) "
        f"FROM {team.db_table} t WHERE t.handles_inbound "
        "ORDER BY t.name, t.id LIMIT 1), "
        f"(SELECT MIN(a.id) FROM {user.db_table} a WHERE a.is_active))",
        [Role.REP.value] * 2,
    )


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
    """Record an inbound content capture: a touch on the one lead of this e-mail,
    creating the lead (owner by round robin) if the e-mail is new.

    Anyone can post the public form with anyone's e-mail, so a capture never
    edits a person already known: their fields, owner and consent stay; what
    was submitted is kept on the touch for the owner to review and apply. A
    prospect who asks for content has become a lead (the glossary): that
    promotion is made and recorded on the touch. Ticking consent only requests
    it: an e-mail with a signed link asks the person to confirm (double
    opt-in), and consent counts from that confirmation.

    The insert comes first (``ON CONFLICT DO NOTHING``): a known e-mail, or
    one a concurrent capture inserted a moment before, meets the unique index
    on ``Lower(email)`` and inserts nothing (no savepoint to pay, no turn
    taken) and is recorded as a touch on that lead. A new lead takes the
    round-robin turn after its insert.
    """
    email = normalize_email(email)
    values = {
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "job_title": job_title,
        "company_name": company,
    }
    submitted = {**values, "email": email, "consent": consent}
    now = timezone.now()
    with transaction.atomic():
        # Insert first, with the owner whose turn it is: a new e-mail (the
        # common case) costs no lookup, and a known one inserts nothing.
        lead = Lead(
            status=LeadStatus.LEAD,
            email=email,
            channel=Channel.INBOUND,
            source=Source.CONTENT_DOWNLOAD,
            offer=offer,
            owner_id=_owner_whose_turn_it_is(),
            became_lead_at=now,
            touch_count=1,
            **values,
        )
        if _insert_unless_known(lead):
            owner_id = _next_inbound_owner()
            if owner_id != lead.owner_id:  # a concurrent capture took the turn
                lead.owner_id = owner_id
                lead.save(update_fields=["owner"])
            lead_status_record(
                lead=lead,
                from_status="",
                to_status=LeadStatus.LEAD,
                at=now,
                by=None,
                also=lead_rollups.lead_changes(None, lead),
                others=[
                    webhooks.event(WebhookEventType.LEAD_CREATED, lead_payload(lead)),
                    _touch(
                        lead, offer, now, ip_address, page_url, user_agent, submitted
                    ),
                ],
            )
            _request_consent(lead, offer, now, ip_address, consent)
            return lead
        # Known, or inserted by a concurrent capture a moment ago: a touch.
        lead = Lead.objects.select_for_update().with_email(email).first()
        if lead is None:
            _next_inbound_owner()  # nobody could own it: says so
            raise ImproperlyConfigured(_("No active user can receive inbound leads."))
        changed = []
        counted = lead_rollups.counted(lead)
        promoted = lead.status == LeadStatus.PROSPECT
        if promoted:
            changed += _make_lead(lead, at=now)
        if lead.offer_id is None:  # attribution of the first capture, not data
            lead.offer = offer
            changed.append("offer")
        if promoted:  # counted as a new lead (and answered?) with its history row
            lead_status_record(
                lead=lead,
                from_status=LeadStatus.PROSPECT,
                to_status=LeadStatus.LEAD,
                at=now,
                by=None,
                also=lead_rollups.lead_changes(counted, lead),
            )
        else:
            lead_rollups.lead_moved(counted, lead)
        # The row is locked (SELECT ... FOR UPDATE above): counted here, with
        # no re-read after the write.
        lead.touch_count += 1
        # A touch alone is engagement, not an edit: the version (the ETag of
        # a rep's open form) moves only when the record's fields change.
        if changed:
            lead.version += 1
            changed.append("version")
        lead.save(update_fields=[*changed, "touch_count", "updated_at"])
        _touch(
            lead, offer, now, ip_address, page_url, user_agent, submitted, promoted
        ).save()
        if not lead.consent:
            _request_consent(lead, offer, now, ip_address, consent)
    return lead


def _touch(
    lead, offer, now, ip_address, page_url, user_agent, submitted, promoted=False
) -> Touch:
    """Return the capture's touch, to be saved."""
    return Touch(
        lead=lead,
        offer=offer,
        channel=Channel.INBOUND,
        source=Source.CONTENT_DOWNLOAD,
        occurred_at=now,
        ip_address=ip_address,
        page_url=page_url[:500],
        user_agent=user_agent[:300],
        submitted=submitted,
        promoted_to_lead=promoted,
    )


def _request_consent(lead, offer, now, ip_address, consent: bool) -> None:
    """Record a consent request and queue the e-mail of its confirmation link."""
    if not consent or not lead.email:
        return
    # The offer's wording, whatever the caller's language (an API client's
    # Accept-Language): its page showed it and its e-mail quotes it.
    with translation.override(offer.language):
        text = str(CONSENT_TEXT)
    request = ConsentRecord.objects.create(
        lead=lead,
        action=ConsentAction.REQUESTED,
        recorded_at=now,
        offer=offer,
        text=text,
        ip_address=ip_address,
    )
    from leads.tasks import send_consent_email  # tasks import the services' modules

    # A job, queued once the request is committed: the capture answers
    # whether or not the mail server does (the job retries). Robust: a broker
    # that refuses the job must not turn a stored capture into a 500; the
    # hourly sweep (``send_pending_consent_emails``) queues it again.
    transaction.on_commit(lambda: send_consent_email.delay(request.pk), robust=True)


def consent_confirm(*, token: str, ip_address: str | None = None) -> Lead:
    """Turn the consent request signed in ``token`` into consent (double opt-in).

    Confirming twice changes nothing. Raise ``ValidationError`` for a forged,
    altered or expired token.
    """
    try:
        request_id = double_opt_in.request_id_from_token(token)
    except signing.SignatureExpired as exc:
        raise ValidationError(
            _("This confirmation link has expired: ask for the content again.")
        ) from exc
    except (signing.BadSignature, ValueError) as exc:
        raise ValidationError(_("This confirmation link is not valid.")) from exc
    with transaction.atomic():
        request = (
            ConsentRecord.objects.filter(pk=request_id, action=ConsentAction.REQUESTED)
            .select_related("lead")
            .first()
        )
        if request is None:
            raise ValidationError(_("This confirmation link is not valid."))
        lead = lock_version(Lead(pk=request.lead_id))
        if ConsentRecord.objects.filter(confirms=request).exists():
            return lead
        ConsentRecord.objects.create(
            lead=lead,
            action=ConsentAction.GIVEN,
            recorded_at=timezone.now(),
            offer_id=request.offer_id,
            text=request.text,
            confirms=request,
            ip_address=ip_address,
        )
        if not lead.consent:
            lead.consent = True
            save_versioned(lead, ["consent"])
    return lead


def lead_consent_record(
    *, lead: Lead, by: User, given: bool, text: str = CONSENT_TEXT
) -> Lead:
    """Record consent given or withdrawn through a user (a call, a letter).

    Appends a record and sets the lead's current consent; the user answers for
    the evidence, so there is no confirmation round.
    """
    with transaction.atomic():
        locked = lock_version(lead)
        if not policy.may_change(by, locked):
            raise PermissionDenied(_("This lead is outside your scope."))
        ConsentRecord.objects.create(
            lead=locked,
            action=ConsentAction.GIVEN if given else ConsentAction.WITHDRAWN,
            recorded_at=timezone.now(),
            text=text,
            recorded_by=by,
        )
        if locked.consent != given:
            locked.consent = given
            save_versioned(locked, ["consent"])
    return locked


def _lock_decidable(lead: Lead, expected_version: ExpectedVersion) -> Lead:
    locked = lock_version(lead, expected_version)
    if locked.status == LeadStatus.PROSPECT:
        raise Conflict(
            _("A prospect cannot be qualified: it must become a lead first."),
            code="not_a_lead",
        )
    if locked.status not in DECIDABLE:
        # Converted: final, no retry can decide it (a prospect can be promoted).
        raise final_state(
            "status",
            _("A lead with status “%(status)s” cannot be qualified or disqualified.")
            % {"status": locked.get_status_display()},
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
    expected_version: ExpectedVersion = None,
) -> Lead:
    """Qualify a lead on its BANT criteria, recording the decision and its score."""
    return _decide(
        expected_version=expected_version,
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


def lead_disqualify(
    *,
    lead: Lead,
    by: User,
    reason: str,
    notes: str = "",
    expected_version: ExpectedVersion = None,
) -> Lead:
    """Disqualify a lead for a reason of the fixed list (``other`` needs notes).

    The decision records no BANT criterion met: its score is engagement only.
    """
    if reason not in DisqualificationReason.values:
        raise ValidationError({"reason": _("Choose a reason from the list.")})
    if reason == DisqualificationReason.OTHER and not notes.strip():
        raise ValidationError({"notes": _("Explain the reason when it is 'other'.")})
    return _decide(
        expected_version=expected_version,
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
    expected_version: ExpectedVersion = None,
) -> Lead:
    """Record a decision with its score, and move the lead to its status."""
    qualified = decision == Decision.QUALIFIED
    with transaction.atomic():
        lead = _lock_decidable(lead, expected_version)
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
        from_status = lead.status
        counted = lead_rollups.counted(lead)
        lead.status = LeadStatus.QUALIFIED if qualified else LeadStatus.DISQUALIFIED
        lead.score = score
        # Each timestamp holds the current decision; the history is the rows.
        lead.qualified_at = now if qualified else None
        lead.disqualified_at = None if qualified else now
        lead_status_record(
            lead=lead,
            from_status=from_status,
            to_status=lead.status,
            at=now,
            by=by,
            # Its time to qualify counted, or taken back.
            also=lead_rollups.lead_changes(counted, lead),
            others=[webhooks.event(WebhookEventType.LEAD_QUALIFIED, lead_payload(lead))]
            if qualified
            else [],
        )
        save_versioned(lead, ["status", "score", "qualified_at", "disqualified_at"])
    return lead


def _make_lead(lead: Lead, *, at: datetime.datetime) -> list[str]:
    """Make a prospect a lead at ``at``; return the fields to save.

    Its response time starts then (``first_response_at``), and the cold calls
    it follows within the window are marked as having won it over
    (``led_to_lead``) and counted in their rollup (pipeline's
    ``mark_won_over``, reached through the reverse relation), in the caller's
    transaction: 2 queries (3 when a cold call won it over), none for a
    prospect nobody has called or written to yet (its activity counter, read
    under the caller's lock, is exact).
    """
    lead.status = LeadStatus.LEAD
    lead.became_lead_at = at
    lead.first_response_at = None
    if lead.activity_count:
        lead.first_response_at = _first_response(lead, since=at)
        lead.activities.mark_won_over(at)
    return ["status", "became_lead_at", "first_response_at"]


def _first_response(lead: Lead, *, since: datetime.datetime):
    """Return the lead's first response at or after ``since`` (one query).

    On promotion: the calls and e-mails a prospect received do not answer a
    lead, but one logged earlier and dated after ``since`` (a backdated
    promotion, a device clock ahead) does. ``responses`` is pipeline's rule,
    reached through the reverse relation (this app never imports it).
    """
    return (
        lead.activities.responses()
        .filter(occurred_at__gte=since)
        .aggregate(first=Min("occurred_at"))["first"]
    )


def lead_promote(
    *,
    lead: Lead,
    by: User | None,
    at: datetime.datetime | None = None,
    expected_version: ExpectedVersion = None,
) -> Lead:
    """Make a prospect a lead: they showed interest (default: now).

    Called by hand (API ``promote/``, the admin) and by
    ``pipeline.activities.activity_log`` when a call or meeting records interest.
    """
    if by is not None and not policy.may_change(by, lead):
        raise PermissionDenied(_("This lead is outside your scope."))
    with transaction.atomic():
        locked = lock_version(lead, expected_version)
        if locked.status != LeadStatus.PROSPECT:
            # No record goes back to prospect: no retry can promote it.
            raise final_state(
                "status",
                _(
                    "Only a prospect can be promoted to a lead; this record is "
                    "%(status)s."
                )
                % {"status": locked.get_status_display().lower()},
                code="not_a_prospect",
            )
        at = at or timezone.now()
        save_versioned(locked, _make_lead(locked, at=at))
        lead_status_record(
            lead=locked,
            from_status=LeadStatus.PROSPECT,
            to_status=LeadStatus.LEAD,
            at=at,
            by=by,
            # A prospect counts nowhere: now a new lead, maybe answered.
            also=lead_rollups.lead_changes(None, locked),
        )
    return locked


def lead_reassign(
    *, lead: Lead, to: User, by: User, expected_version: ExpectedVersion = None
) -> Lead:
    """Give a lead to another owner; both the lead and ``to`` must be in scope."""
    return lead_update(lead=lead, by=by, expected_version=expected_version, owner=to)


def lead_update(
    *, lead: Lead, by: User, expected_version: ExpectedVersion = None, **changes: Any
) -> Lead:
    """Change a lead's plain fields, and its owner as a reassignment.

    Only the named fields are written, under the row lock: a concurrent edit
    of other fields, a decision or a conversion is never undone. Status,
    score and the engagement counters change only through their services.
    """
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(
            dict.fromkeys(sorted(unknown), _("Change this through the lead's actions."))
        )
    owner = changes.get("owner")
    with transaction.atomic():
        locked = lock_version(lead, expected_version)
        if owner is not None:
            if not policy.may_change(by, locked):
                raise PermissionDenied(_("This lead is outside your scope."))
            _check_assignable(owner=owner, by=by)
        changes = {
            name: value
            for name, value in changes.items()
            if differs(locked, name, value)
        }
        if not changes:
            return locked
        counted = lead_rollups.counted(locked)
        for name, value in changes.items():
            setattr(locked, name, value)
        # A new channel, source or offer moves the lead's count of new leads
        # (and a new channel its durations).
        lead_rollups.lead_moved(counted, locked)
        # A new owner or channel takes the lead's counts in the daily rollup.
        with lead_rollups.lead_moving(locked.pk, changes):
            if "email" not in changes:
                save_versioned(locked, list(changes))
                return locked
            try:
                with transaction.atomic():  # savepoint: the duplicate is reported
                    save_versioned(locked, list(changes))
            except IntegrityError as exc:
                # Another lead took this e-mail after the serializer's check.
                raise ValidationError(
                    {"email": _("A lead with this e-mail already exists.")}
                ) from exc
    return locked


def lead_delete(*, lead: Lead) -> None:
    """Delete a lead entered by mistake, with its status history (an admin's act).

    ``crm.policy.may_delete`` decides who may (the admin asks it); the
    history goes with the lead (its own record of itself), so its counts
    leave the daily rollup in the same transaction.
    """
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        lead_rollups.lead_removing(locked.pk)
        lead_rollups.lead_moved(lead_rollups.counted(locked), None)
        locked.delete()
