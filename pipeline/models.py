"""Deals moving through the five stages of the funnel, and activities.

Glossary terms 4 (sales funnel), 8 (cold call) and 9 (deal). ``StageChange`` rows
are the history every funnel KPI is computed from: append-only.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Case, DecimalField, ExpressionWrapper, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm import formatting, limits, policy
from crm.models import (
    AppendOnly,
    Company,
    Contact,
    TimeStamped,
    User,
    Versioned,
    default_currency,
)
from leads.models import Channel, Lead


class Stage(models.TextChoices):
    PROSPECTION = "prospection", _("Prospection")
    QUALIFICATION = "qualification", _("Lead qualification")
    PRESENTATION = "presentation", _("Product presentation")
    CONSIDERATION = "consideration", _("Consideration")
    CLOSING = "closing", _("Closing")


# The funnel's order; a stage's index is its depth.
STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)
STAGE_INDEX: dict[str, int] = {stage.value: i for i, stage in enumerate(STAGE_ORDER)}

# Defaults for ``StageSetting`` rows (editable in the admin without a deploy).
DEFAULT_PROBABILITY: dict[Stage, int] = {
    Stage.PROSPECTION: 10,
    Stage.QUALIFICATION: 20,
    Stage.PRESENTATION: 40,
    Stage.CONSIDERATION: 60,
    Stage.CLOSING: 80,
}
DEFAULT_STALE_AFTER_DAYS: dict[Stage, int] = {
    Stage.PROSPECTION: 14,
    Stage.QUALIFICATION: 14,
    Stage.PRESENTATION: 21,
    Stage.CONSIDERATION: 30,
    Stage.CLOSING: 14,
}


# Allowed moves between open stages: forward one or more stages, or back. Winning
# needs ``WIN_FROM``; losing is allowed from any open stage; a closed deal must be
# reopened (into any stage) before it moves again. Enforced in
# ``pipeline.services``.
ALLOWED_MOVES: dict[Stage, frozenset[Stage]] = {
    stage: frozenset(STAGE_ORDER) - {stage} for stage in STAGE_ORDER
}
WIN_FROM: frozenset[Stage] = frozenset({Stage.CLOSING})


class DealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class LostReason(models.TextChoices):
    PRICE = "price", _("Price")
    COMPETITOR = "competitor", _("Chose a competitor")
    NO_BUDGET = "no_budget", _("No budget")
    NO_DECISION = "no_decision", _("No decision")
    TIMING = "timing", _("Bad timing")
    PRODUCT_FIT = "product_fit", _("Product does not fit")
    OTHER = "other", _("Other")


class StageSetting(models.Model):
    """Per-stage win probability and staleness limit, editable by admins."""

    stage = models.CharField(
        max_length=16, choices=Stage.choices, unique=True, verbose_name=_("stage")
    )
    probability = models.PositiveSmallIntegerField(
        help_text=_("Win probability, percent."),
        validators=[MaxValueValidator(100)],
        verbose_name=_("probability"),
    )
    stale_after_days = models.PositiveSmallIntegerField(
        help_text=_("A deal with no move and no activity for longer is stale."),
        validators=[MaxValueValidator(limits.MAX_STALE_AFTER_DAYS)],
        verbose_name=_("stale after days"),
    )

    class Meta:
        verbose_name = _("stage setting")
        verbose_name_plural = _("stage settings")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__lte=100), name="stage_probability_0_100"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="stage_setting_stage_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.get_stage_display()


@dataclass(frozen=True)
class StageRules:
    """The probability and staleness limit of every stage, read in one query."""

    probability: dict[str, int]
    stale_after_days: dict[str, int]

    @classmethod
    def load(cls) -> StageRules:
        """Read the ``StageSetting`` rows; a missing row falls back to the default."""
        probability = {s.value: p for s, p in DEFAULT_PROBABILITY.items()}
        stale = {s.value: d for s, d in DEFAULT_STALE_AFTER_DAYS.items()}
        for row in StageSetting.objects.values_list(
            "stage", "probability", "stale_after_days"
        ):
            probability[row[0]], stale[row[0]] = row[1], row[2]
        return cls(probability=probability, stale_after_days=stale)

    def stale_condition(self, now: datetime.datetime) -> Q:
        """Return the filter on open deals untouched longer than their stage allows.

        "Untouched since T" means neither entered the stage nor had an activity
        after T, which avoids GREATEST() and its NULL semantics differing between
        SQLite and PostgreSQL.
        """
        per_stage = Q(pk__in=[])
        for stage, days in self.stale_after_days.items():
            limit = now - datetime.timedelta(days=days)
            per_stage |= Q(stage=stage, stage_entered_at__lt=limit) & (
                Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=limit)
            )
        return Q(status=DealStatus.OPEN) & per_stage

    def is_stale(self, deal: Deal, now: datetime.datetime) -> bool:
        """Return ``stale_condition`` for one deal in memory (same rule, no query)."""
        if deal.status != DealStatus.OPEN:
            return False
        limit = now - datetime.timedelta(days=self.stale_after_days[deal.stage])
        return deal.stage_entered_at < limit and (
            deal.last_activity_at is None or deal.last_activity_at < limit
        )

    def probability_expression(self) -> Coalesce:
        """Return the SQL for a deal's probability: its own, else its stage's."""
        by_stage = Case(
            *(
                When(stage=stage, then=Value(p))
                for stage, p in self.probability.items()
            ),
            default=Value(0),
            output_field=models.PositiveSmallIntegerField(),
        )
        return Coalesce(F("probability"), by_stage)

    def weighted_amount_expression(self) -> ExpressionWrapper:
        """Return the SQL for amount x probability / 100."""
        return ExpressionWrapper(
            F("amount") * self.probability_expression() / Value(Decimal(100)),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        )


class DealQuerySet(models.QuerySet["Deal"]):
    def visible_to(self, user: User) -> DealQuerySet:
        """Return the deals in the user's scope."""
        return policy.visible(user, self)

    def open(self) -> DealQuerySet:
        """Return deals still in the pipeline."""
        return self.filter(status=DealStatus.OPEN)

    def with_staleness(
        self, rules: StageRules | None = None, now: datetime.datetime | None = None
    ) -> DealQuerySet:
        """Annotate ``is_stale`` (computed in SQL, one CASE per stage)."""
        rules = rules or StageRules.load()
        condition = rules.stale_condition(now or timezone.now())
        return self.annotate(
            is_stale=Case(
                When(condition, then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            )
        )

    def stale(
        self, rules: StageRules | None = None, now: datetime.datetime | None = None
    ) -> DealQuerySet:
        """Return open deals with no move and no activity for longer than allowed."""
        rules = rules or StageRules.load()
        return self.filter(rules.stale_condition(now or timezone.now()))


class Deal(TimeStamped):
    """A business in a seller's pipeline: it always has an owner and a stage."""

    title = models.CharField(max_length=200, verbose_name=_("title"))
    owner = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="deals", verbose_name=_("owner")
    )
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
        verbose_name=_("company"),
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deals",
        verbose_name=_("contact"),
    )
    lead = models.OneToOneField(
        Lead,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deal",
        verbose_name=_("lead"),
    )
    channel = models.CharField(
        max_length=8, choices=Channel.choices, verbose_name=_("channel")
    )
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, verbose_name=_("amount")
    )
    currency = models.CharField(
        max_length=3, default=default_currency, verbose_name=_("currency")
    )
    probability = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_("Overrides the stage's probability when set."),
        validators=[MaxValueValidator(100)],
        verbose_name=_("probability"),
    )
    expected_close_on = models.DateField(
        null=True,
        blank=True,
        validators=[limits.validate_day],
        verbose_name=_("expected close on"),
    )
    stage = models.CharField(
        max_length=16,
        choices=Stage.choices,
        default=Stage.PROSPECTION,
        verbose_name=_("stage"),
    )
    status = models.CharField(
        max_length=8,
        choices=DealStatus.choices,
        default=DealStatus.OPEN,
        verbose_name=_("status"),
    )
    lost_reason = models.CharField(
        max_length=16,
        choices=LostReason.choices,
        blank=True,
        verbose_name=_("lost reason"),
    )
    lost_notes = models.TextField(blank=True, verbose_name=_("lost notes"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    stage_entered_at = models.DateTimeField(
        default=timezone.now, verbose_name=_("stage entered at")
    )
    # The deepest stage the deal ever reached (``history.deeper``), kept by
    # the services with each move or reopening: the funnel counts the deals
    # by it rather than reading every deal's history.
    deepest_stage = models.CharField(
        max_length=16,
        choices=Stage.choices,
        default=Stage.PROSPECTION,
        verbose_name=_("deepest stage reached"),
    )
    last_activity_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last activity at")
    )
    # Optimistic locking: bumped by every change, returned to clients as the ETag.
    version = models.PositiveIntegerField(default=1, verbose_name=_("version"))

    objects = DealQuerySet.as_manager()

    # Columns of the CSV export (API ``export/`` and admin action): header, field.
    CSV_COLUMNS = (
        ("id", "pk"),
        ("title", "title"),
        ("owner", "owner__username"),
        ("company_id", "company_id"),
        ("company", "company__name"),
        ("contact_id", "contact_id"),
        ("lead_id", "lead_id"),
        ("channel", "channel"),
        ("amount", "amount"),
        ("currency", "currency"),
        ("probability", "probability"),
        ("expected_close_on", "expected_close_on"),
        ("stage", "stage"),
        ("status", "status"),
        ("lost_reason", "lost_reason"),
        ("closed_at", "closed_at"),
        ("stage_entered_at", "stage_entered_at"),
        ("created_at", "created_at"),
    )

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            # The board and the rep's deal list.
            models.Index(
                fields=["owner", "status", "stage"], name="deal_owner_status_stage"
            ),
            models.Index(fields=["status", "stage"], name="deal_status_stage"),
            # Win rate, revenue won, cycle length: deals closed in a period.
            models.Index(fields=["status", "closed_at"], name="deal_status_closed"),
            # One rep's deals closed in a time range, without reading all of
            # the rep's deals (the KPIs now read the rollups instead).
            models.Index(
                fields=["owner", "status", "closed_at"],
                name="deal_owner_status_closed",
            ),
            models.Index(fields=["-created_at"], name="deal_created_desc"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="deal_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(probability__isnull=True) | Q(probability__lte=100),
                name="deal_probability_0_100",
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="deal_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DealStatus.values), name="deal_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="deal_channel_valid"
            ),
            # Closed deals, and only they, carry a closing time.
            models.CheckConstraint(
                condition=(Q(status=DealStatus.OPEN) & Q(closed_at__isnull=True))
                | (~Q(status=DealStatus.OPEN) & Q(closed_at__isnull=False)),
                name="deal_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(status=DealStatus.WON, stage=Stage.CLOSING)
                | ~Q(status=DealStatus.WON),
                name="deal_won_from_closing",
            ),
            # Services require a reason to lose; the column only holds known ones
            # (history rows and test data may still have lost deals without one).
            models.CheckConstraint(
                condition=Q(lost_reason="") | Q(lost_reason__in=LostReason.values),
                name="deal_lost_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class StageChange(AppendOnly):
    """One move, win, loss or reopening of a deal. Never updated, never deleted."""

    history = "Stage history"

    deal = models.ForeignKey(
        Deal,
        on_delete=models.PROTECT,
        related_name="stage_changes",
        verbose_name=_("deal"),
    )
    from_stage = models.CharField(
        max_length=16, choices=Stage.choices, blank=True, verbose_name=_("from stage")
    )
    to_stage = models.CharField(
        max_length=16, choices=Stage.choices, verbose_name=_("to stage")
    )
    from_status = models.CharField(
        max_length=8,
        choices=DealStatus.choices,
        blank=True,
        verbose_name=_("from status"),
    )
    to_status = models.CharField(
        max_length=8, choices=DealStatus.choices, verbose_name=_("to status")
    )
    changed_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(
        default=timezone.now, verbose_name=_("changed at")
    )

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["-changed_at", "-pk"]
        indexes = [
            models.Index(fields=["deal", "-changed_at"], name="stagechange_deal_at"),
            # Funnel KPI: which deals ever reached a stage.
            models.Index(fields=["to_stage", "deal"], name="stagechange_stage_deal"),
        ]

    def __str__(self) -> str:
        names = {
            "deal": self.deal_id,
            "from": self.get_from_stage_display(),
            "to": self.get_to_stage_display(),
            "status": self.get_to_status_display(),
        }
        if not self.from_stage:
            return _("Deal #%(deal)s: created in %(to)s (%(status)s)") % names
        return _("Deal #%(deal)s: %(from)s → %(to)s (%(status)s)") % names


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("E-mail")
    MEETING = "meeting", _("Meeting")
    NOTE = "note", _("Note")


class Direction(models.TextChoices):
    # A call's direction, not the lead's channel: French says "entrant/sortant".
    INBOUND = "inbound", pgettext_lazy("activity direction", "Inbound")
    OUTBOUND = "outbound", pgettext_lazy("activity direction", "Outbound")


class Outcome(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    NO_ANSWER = "no_answer", _("No answer")
    VOICEMAIL = "voicemail", _("Voicemail")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    MEETING_BOOKED = "meeting_booked", _("Meeting booked")
    NOT_INTERESTED = "not_interested", _("Not interested")


CONNECTED_OUTCOMES = frozenset({Outcome.CONNECTED, Outcome.MEETING_BOOKED})
# A call or meeting with a prospect that records one of these outcomes makes the
# prospect a lead (pipeline.activities.shows_interest).
INTEREST_KINDS = frozenset({ActivityKind.CALL, ActivityKind.MEETING})
INTEREST_OUTCOMES = frozenset({Outcome.MEETING_BOOKED})
# What a user does to answer a lead (lead response time): not notes, and never
# the lead's own inbound messages.
TOUCH_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING})
# A cold call won its prospect over when they became a lead within this long
# after it (the KPI "cold-called prospects who became leads", docs/metrics.md).
COLD_CALL_TO_LEAD_WINDOW = datetime.timedelta(days=30)


class ActivityQuerySet(models.QuerySet["Activity"]):
    def visible_to(self, user: User) -> ActivityQuerySet:
        """Return the activities in the user's scope (by the activity's owner)."""
        return policy.visible(user, self)

    def cold_calls(self) -> ActivityQuerySet:
        """Return outbound calls to people who never asked to be contacted."""
        return self.filter(is_cold_call=True)

    def won_over_by(self, became_lead_at: datetime.datetime) -> ActivityQuerySet:
        """Return the cold calls a person becoming a lead at ``became_lead_at`` follows.

        Those made at most ``COLD_CALL_TO_LEAD_WINDOW`` before it (and not after):
        the calls whose ``led_to_lead`` the promotion sets (the rule of
        ``history.led_to_lead``). ``leads`` reaches it through the reverse
        relation, as it reaches ``responses``.
        """
        return self.cold_calls().filter(
            occurred_at__lte=became_lead_at,
            occurred_at__gte=became_lead_at - COLD_CALL_TO_LEAD_WINDOW,
        )

    def mark_won_over(self, became_lead_at: datetime.datetime) -> int:
        """Mark the cold calls that won over people becoming leads at
        ``became_lead_at`` (``won_over_by``), and count them in their rollup
        (``WonOverDaily``): 2 statements, 1 when none. Return the calls marked.

        Only for people becoming leads now: none of their calls was marked
        before (a lead never becomes a prospect again), so their calls' rows
        are added whole. ``leads`` reaches it through the reverse relation.
        """
        calls = self.won_over_by(became_lead_at)
        marked = calls.update(led_to_lead=True)
        if marked:
            from pipeline import rollups  # the rollups import these models

            rollups.won_over_add(leads=calls.values("lead_id"))
        return marked

    def responses(self) -> ActivityQuerySet:
        """Return what answers a lead: outbound calls, e-mails and meetings done.

        The rule of ``pipeline.history.is_response`` as a filter. ``leads``
        reaches it through the reverse relation (``lead.activities``) to keep
        ``Lead.first_response_at`` exact without importing this app.
        """
        return self.filter(
            direction=Direction.OUTBOUND,
            kind__in=TOUCH_KINDS,
            occurred_at__isnull=False,
        )


class Activity(Versioned, models.Model):
    """A call, e-mail, meeting or note about a lead, contact, deal or company.

    Done (``done``, with the moment it ``occurred_at``) or planned: a task due
    at ``due_at`` that has not happened yet, which may be in the future. Only
    done activities count: the engagement counters, staleness and the KPIs read
    ``occurred_at``, which a planned activity does not have.

    It lives in ``pipeline`` because it may point at a deal, and apps depend one
    way (``crm`` <- ``leads`` <- ``pipeline``); see docs/architecture.md.
    """

    kind = models.CharField(
        max_length=8, choices=ActivityKind.choices, verbose_name=_("kind")
    )
    direction = models.CharField(
        max_length=8,
        choices=Direction.choices,
        default=Direction.OUTBOUND,
        verbose_name=_("direction"),
    )
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, blank=True, verbose_name=_("outcome")
    )
    is_cold_call = models.BooleanField(default=False, verbose_name=_("is cold call"))
    # Set on a cold call when the called prospect becomes a lead within
    # COLD_CALL_TO_LEAD_WINDOW after it, by the promotion (``won_over_by``), so
    # that the cold-call KPIs count the prospects won over without joining
    # the leads. Never set on a call that is not cold.
    led_to_lead = models.BooleanField(
        default=False, db_default=False, verbose_name=_("led to a lead")
    )
    # The database default too: bulk loaders that name their columns (the
    # benchmark's generator) write done activities.
    done = models.BooleanField(
        default=True,
        db_default=True,
        help_text=_("Off for a planned activity, until it is done."),
        verbose_name=_("done"),
    )
    due_at = models.DateTimeField(
        null=True,
        blank=True,
        validators=[limits.validate_day],
        help_text=_("When a planned activity is due."),
        verbose_name=_("due at"),
    )
    occurred_at = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        validators=[limits.validate_day],
        help_text=_("When it happened; empty while it is planned."),
        verbose_name=_("occurred at"),
    )
    duration_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(limits.MAX_ACTIVITY_SECONDS)],
        verbose_name=_("duration seconds"),
    )
    lead = models.ForeignKey(
        Lead,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        verbose_name=_("lead"),
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        verbose_name=_("contact"),
    )
    deal = models.ForeignKey(
        Deal,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        verbose_name=_("deal"),
    )
    # A note (or call) about the company itself, from its page in the workspace.
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        verbose_name=_("company"),
    )
    owner = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="activities",
        verbose_name=_("owner"),
    )
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = ActivityQuerySet.as_manager()

    CSV_COLUMNS = (
        ("id", "pk"),
        ("kind", "kind"),
        ("direction", "direction"),
        ("outcome", "outcome"),
        ("is_cold_call", "is_cold_call"),
        ("done", "done"),
        ("due_at", "due_at"),
        ("occurred_at", "occurred_at"),
        ("duration_seconds", "duration_seconds"),
        ("lead_id", "lead_id"),
        ("contact_id", "contact_id"),
        ("deal_id", "deal_id"),
        ("owner", "owner__username"),
        ("notes", "notes"),
    )

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["owner", "-occurred_at"], name="activity_owner_at"),
            models.Index(fields=["lead", "occurred_at"], name="activity_lead_at"),
            models.Index(fields=["deal", "occurred_at"], name="activity_deal_at"),
            # A rep's planned activities by due date (``?done=false&ordering=
            # due_at``), the coming workspace's task list.
            models.Index(
                fields=["owner", "due_at"],
                condition=Q(done=False),
                name="activity_planned_owner_due",
            ),
            # Cold-call KPIs (metrics/kpis.py, cold_call_kpis): cold calls in a
            # period, for everyone or one rep. The called lead and the outcome
            # are carried so that the query is an index-only scan on PostgreSQL.
            models.Index(
                fields=["occurred_at"],
                condition=Q(is_cold_call=True),
                include=["lead", "outcome", "led_to_lead"],
                name="activity_cold_call_at",
            ),
            models.Index(
                fields=["owner", "occurred_at"],
                condition=Q(is_cold_call=True),
                include=["lead", "outcome", "led_to_lead"],
                name="activity_cold_call_owner_at",
            ),
            # The cold calls that won their prospect over, for the distinct
            # leads a team's or a rep's calls of a period won over (the rest
            # of the cold-call figures, and the organisation's leads won
            # over, are read from pipeline.ColdCallDaily and WonOverDaily).
            models.Index(
                fields=["occurred_at"],
                condition=Q(is_cold_call=True, led_to_lead=True),
                include=["lead", "owner"],
                name="activity_won_over_at",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False)
                | Q(contact__isnull=False)
                | Q(deal__isnull=False)
                | Q(company__isnull=False),
                name="activity_has_subject",
                violation_error_message=_(
                    "Log it against a lead, contact, deal or company."
                ),
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ActivityKind.values), name="activity_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=Direction.values),
                name="activity_direction_valid",
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=Outcome.values),
                name="activity_outcome_valid",
            ),
            # Done means it happened; planned means it is due.
            models.CheckConstraint(
                condition=Q(done=True, occurred_at__isnull=False)
                | Q(done=False, occurred_at__isnull=True, due_at__isnull=False),
                name="activity_done_or_planned",
                violation_error_message=_(
                    "A done activity has a time it occurred; "
                    "a planned one has a due time instead."
                ),
            ),
            models.CheckConstraint(
                condition=Q(led_to_lead=False) | Q(is_cold_call=True),
                name="led_to_lead_is_cold_call",
            ),
            # A cold call is, by definition, an outbound call.
            models.CheckConstraint(
                condition=Q(is_cold_call=False)
                | Q(kind=ActivityKind.CALL, direction=Direction.OUTBOUND),
                name="cold_call_is_outbound_call",
            ),
        ]

    def __str__(self) -> str:
        if self.done:
            return _("%(kind)s on %(moment)s") % {
                "kind": self.get_kind_display(),
                "moment": formatting.moment(self.occurred_at),
            }
        return _("%(kind)s due %(moment)s") % {
            "kind": self.get_kind_display(),
            "moment": formatting.moment(self.due_at),
        }


class DealCloseDaily(models.Model):
    """Wins and losses summed per day, owner, channel, currency and close day.

    An exact rollup of the stage history, kept by ``pipeline.rollups`` in the
    transaction of each ``StageChange``. A win or a loss adds a row on its day
    with ``closed_on`` that day; reopening it adds the opposite on the day of
    the reopening with ``closed_on`` the day of the close it undid. The deals
    closed in a period by the close that stood at its end are then the rows
    with ``closed_on`` in the period and ``day`` up to its end: a reopening
    inside the period cancels the close, a later one does not touch it.
    Amount, owner, channel and currency are the deal's current ones (amounts
    have no history), moved with the deal when they change. Each row is also
    summed under the owner ``EVERYONE`` (0), so the organisation's closes read
    a few rows a day however many reps it has: ``owner_id`` is a user's id or
    0, not a foreign key.
    """

    day = models.DateField()
    # A user's id, or EVERYONE (0): every owner summed.
    owner_id = models.IntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=DealStatus.choices)
    closed_on = models.DateField()
    deals = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    # Sum of creation-to-close durations (the sales cycle's numerator).
    cycle = models.DurationField(default=datetime.timedelta)

    class Meta:
        verbose_name = _("daily deal close rollup")
        verbose_name_plural = _("daily deal close rollups")
        ordering = ["day", "owner_id", "channel", "currency", "status", "closed_on"]
        constraints = [
            # The upserts' conflict target.
            models.UniqueConstraint(
                fields=[
                    "day",
                    "owner_id",
                    "channel",
                    "currency",
                    "status",
                    "closed_on",
                ],
                name="dealclosedaily_key",
            ),
        ]
        indexes = [
            # Closed-deal KPIs (metrics.kpis.deals): the closes of a period,
            # an owner's (or everyone's) at a time: owner first, or the
            # organisation would read every owner's rows of the period.
            models.Index(
                fields=["owner_id", "closed_on", "day"],
                include=[
                    "channel",
                    "currency",
                    "status",
                    "deals",
                    "amount",
                ],
                name="dealclosedaily_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.status} {self.closed_on}"


class PipelineSums(models.Model):
    """What the pipeline rollups key after their day (or month) and owner, and
    what they sum: open deals, their amount, amount x own probability, and
    the amount of those weighted by their stage's probability."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    currency = models.CharField(max_length=3)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    deals = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    probability_amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    stage_probability_amount = models.DecimalField(
        max_digits=18, decimal_places=2, default=0
    )

    class Meta:
        abstract = True


class PipelineDaily(PipelineSums):
    """Open deals entering (+) and leaving (-) each stage, per day, owner,
    channel and currency: an exact rollup of the stage history.

    The pipeline on a day is the sum of every row up to it, so it costs the
    days and owners, not the deals. Kept by ``pipeline.rollups`` in the
    transaction of each ``StageChange``. Amount and the deal's own probability
    are current values (they have no history), moved with the deal when they
    change; ``probability_amount`` is amount x own probability (in percent)
    for deals that set one, ``stage_probability_amount`` the amount of those
    weighted by their stage's probability.
    """

    day = models.DateField()
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("daily pipeline rollup")
        verbose_name_plural = _("daily pipeline rollups")
        ordering = ["day", "owner", "channel", "currency", "stage"]
        constraints = [
            # The upserts' conflict target; also serves the KPIs' day range.
            models.UniqueConstraint(
                fields=["day", "owner", "channel", "currency", "stage"],
                name="pipelinedaily_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.stage} {self.deals}"


# The month of ``PipelineMonthly``'s running totals (every month summed); its
# rows for the whole organisation are owned by ``EVERYONE``, as the MRR's.
ALL_MONTHS = datetime.date.max


class PipelineMonthly(PipelineSums):
    """The daily pipeline rollup summed per month, and over all time, per
    owner and for the whole organisation.

    The same rows as ``PipelineDaily`` with the day's month (its first day)
    in place of the day, plus one more copy under ``ALL_MONTHS``: the
    pipeline as it stands now. The pipeline at the end of a day is then that
    running total less the months after the day's and the days after it in
    its month: a few rows per owner and stage, however long the history
    (``metrics.kpis.deals.open_on``). Each row is also summed under the owner
    ``EVERYONE`` (0), so the organisation's pipeline reads a few rows per
    stage however many reps it has: ``owner_id`` is a user's id or 0, not a
    foreign key. Kept with the daily rows, in the same transaction and
    statement, by ``pipeline.rollups``.
    """

    month = models.DateField()
    # A user's id, or EVERYONE (0): every owner summed.
    owner_id = models.IntegerField()

    class Meta:
        verbose_name = _("monthly pipeline rollup")
        verbose_name_plural = _("monthly pipeline rollups")
        ordering = ["month", "owner_id", "channel", "currency", "stage"]
        constraints = [
            # The upserts' conflict target; also serves the KPIs' month range
            # of one owner (or of everyone): owner first, or the organisation
            # would read every owner's running totals.
            models.UniqueConstraint(
                fields=["owner_id", "month", "channel", "currency", "stage"],
                name="pipelinemonthly_owner_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month} {self.owner_id} {self.stage} {self.deals}"


class FunnelDaily(models.Model):
    """Deals per creation day, channel and the deepest stage they reached,
    and how many of them are won: the organisation's funnel, an exact rollup
    of the deals.

    ``depth`` is the stage's place in the funnel (0 prospection to 4
    closing): the deeper of the deal's ``deepest_stage`` and its stage, as
    the funnel counts it. No owner: per day and owner there are about as many
    keys as deals (as for the new-lead rollup), so a team's or a rep's funnel
    reads its deals. Kept by ``pipeline.rollups`` in the transaction of each
    creation, move, close, reopening and change of channel.
    """

    day = models.DateField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    depth = models.PositiveSmallIntegerField()
    deals = models.IntegerField(default=0)
    won = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily funnel rollup")
        verbose_name_plural = _("daily funnel rollups")
        ordering = ["day", "channel", "depth"]
        constraints = [
            # The upserts' conflict target; also serves the funnel's day range.
            models.UniqueConstraint(
                fields=["day", "channel", "depth"], name="funneldaily_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.depth} {self.deals}"


class ColdCallDaily(models.Model):
    """Cold calls per day, caller and outcome: an exact rollup of the activities.

    A cold call counts on the day it was made (``occurred_at``, in the CRM's
    time zone) under its caller and, under the owner ``EVERYONE`` (0), for
    the whole organisation: the calls, connected calls and meetings booked of
    a period are a few rows a day instead of every call. Activities are a
    log: a call is counted when it is logged done or a planned one is
    completed, and what it counts by never changes afterwards (only its notes
    can). Kept by ``pipeline.rollups`` in the transaction of each;
    ``verify_rollups`` recomputes it from the activities.
    """

    day = models.DateField()
    # The caller's id, or EVERYONE (0): every caller summed.
    owner_id = models.IntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    calls = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily cold call rollup")
        verbose_name_plural = _("daily cold call rollups")
        ordering = ["day", "owner_id", "outcome"]
        constraints = [
            # The upserts' conflict target; owner first, as the KPIs read one
            # owner's (or everyone's) days.
            models.UniqueConstraint(
                fields=["owner_id", "day", "outcome"], name="coldcalldaily_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.outcome or '-'}: {self.calls}"


# ``WonOverDaily.previous_day`` of a lead's first call won over: none before it.
NO_EARLIER_CALL = datetime.date.min


class WonOverDaily(models.Model):
    """The cold calls that won their prospect over, per day and the day of the
    same lead's previous such call: an exact rollup of the activities.

    The KPI "cold-called prospects who became leads" counts each lead once in
    a period, however often it was called. A lead's calls won over, in time
    order, that fall in a period are consecutive, so exactly one of them
    follows a call from before the period's start (or none,
    ``NO_EARLIER_CALL``): the leads won over from ``start`` to ``end`` are the
    sum of the rows with ``start <= day <= end`` and ``previous_day < start``,
    a few rows a day instead of every call. For the whole organisation only:
    a rep or a team reads its own calls (``led_to_lead``).

    A prospect's calls are marked once, when it becomes a lead, and a lead
    never becomes a prospect again: the promotion adds its calls' rows
    (``ActivityQuerySet.mark_won_over``), in its transaction;
    ``verify_rollups`` recomputes them from the activities.
    """

    day = models.DateField()
    previous_day = models.DateField()
    calls = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily won-over cold call rollup")
        verbose_name_plural = _("daily won-over cold call rollups")
        ordering = ["day", "previous_day"]
        constraints = [
            # The upserts' conflict target, and the KPI's range on the day.
            models.UniqueConstraint(
                fields=["day", "previous_day"], name="wonoverdaily_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} after {self.previous_day}: {self.calls}"
