"""Prospects and leads: one record per person, from first interest to conversion.

Glossary terms 1 (prospect), 2 (lead), 3 (qualified lead), 5 (inbound) and
6 (outbound). Activities (calls, e-mails, cold calls) live in ``pipeline``
because they may also be logged against a deal; the counters below are kept
up to date by ``pipeline.activities.activity_log`` so that this app never needs
to import ``pipeline``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections, models
from django.db.models import Lookup, Manager, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat, Lower
from django.db.models.lookups import Exact, In
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from crm import formatting, policy
from crm.durations import DurationBucket
from crm.models import (
    AppendOnly,
    Job,
    ScopedQuerySet,
    TimeStamped,
    User,
    Versioned,
)
from crm.reference import normalize_email


class Channel(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class Source(models.TextChoices):
    CONTENT_DOWNLOAD = "content_download", _("Content download")
    WEBSITE_FORM = "website_form", _("Website form")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event")
    COLD_CALL = "cold_call", _("Cold call")
    COLD_EMAIL = "cold_email", _("Cold e-mail")
    PROSPECT_LIST = "prospect_list", _("Prospect list")
    OTHER = "other", _("Other")


class LeadStatus(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    LEAD = "lead", _("Lead")
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")
    CONVERTED = "converted", _("Converted")


class OfferKind(models.TextChoices):
    EBOOK = "ebook", _("E-book")
    INFOGRAPHIC = "infographic", _("Infographic")
    WEBINAR = "webinar", _("Webinar")
    CHECKLIST = "checklist", _("Checklist")
    TEMPLATE = "template", _("Template")
    OTHER = "other", _("Other")


class DisqualificationReason(models.TextChoices):
    NO_BUDGET = "no_budget", _("No budget")
    NO_AUTHORITY = "no_authority", _("No decision power")
    NO_NEED = "no_need", _("No need")
    BAD_TIMING = "bad_timing", _("Not now")
    CONTENT_ONLY = "content_only", _("Only interested in the content")
    COMPETITOR = "competitor", _("Competitor or student")
    UNREACHABLE = "unreachable", _("Unreachable")
    OTHER = "other", _("Other")


class Decision(models.TextChoices):
    QUALIFIED = "qualified", _("Qualified")
    DISQUALIFIED = "disqualified", _("Disqualified")


class ContentOffer(Versioned, TimeStamped):
    """Educational content given in exchange for contact data (inbound)."""

    title = models.CharField(max_length=200, verbose_name=_("title"))
    kind = models.CharField(
        max_length=16, choices=OfferKind.choices, verbose_name=_("kind")
    )
    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    file = models.FileField(upload_to="offers/", blank=True, verbose_name=_("file"))
    # The landing page and its e-mail speak the offer's language, not the reader's.
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        # For the bulk writers that insert rows in SQL (the benchmark).
        db_default=settings.LANGUAGE_CODE,
        verbose_name=_("language"),
    )
    external_url = models.URLField(blank=True, verbose_name=_("external url"))

    class Meta:
        verbose_name = _("content offer")
        verbose_name_plural = _("content offers")
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=OfferKind.values), name="offer_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def download_url(self) -> str | None:
        """Return where the content is: its external URL, else the uploaded file."""
        return self.external_url or (self.file.url if self.file else None)

    @classmethod
    def active_by_slug(cls, slug: str) -> ContentOffer | None:
        """Return the active offer of this slug, from the cache when it can.

        Every public capture names its offer: a handful of rows read on each
        post. Cached for ``OFFER_CACHE_SECONDS``, and dropped from the cache
        by every save and deletion here; with a per-process cache another
        process may accept a just-deactivated offer for that long.
        """
        key = _offer_cache_key(slug)
        offer = cache.get(key)
        if offer is None:
            offer = cls.objects.filter(active=True, slug=slug).first()
            if offer is not None:
                cache.set(key, offer, OFFER_CACHE_SECONDS)
        return offer

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self._forget()

    def delete(self, *args, **kwargs):
        self._forget()
        return super().delete(*args, **kwargs)

    def _forget(self) -> None:
        cache.delete(_offer_cache_key(self.slug))
        previous = self._loaded_slug
        if previous and previous != self.slug:
            cache.delete(_offer_cache_key(previous))

    @classmethod
    def from_db(cls, db, field_names, values):
        offer = super().from_db(db, field_names, values)
        # A renamed slug must also leave the cache under its old name.
        offer._loaded_slug = offer.__dict__.get("slug", "")
        return offer

    _loaded_slug = ""


OFFER_CACHE_SECONDS = 60


def _offer_cache_key(slug: str) -> str:
    return f"leads:offer:{slug}"


class _EqualsAny(Lookup):
    """``lhs = ANY(%s)`` with the values as one array parameter (PostgreSQL).

    The CSV import looks up thousands of e-mails at once; an ``IN`` list costs
    Django and psycopg work per element to build and bind.
    """

    lookup_name = "equals_any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, self.rhs]


class LeadQuerySet(models.QuerySet["Lead"]):
    def visible_to(self, user: User) -> LeadQuerySet:
        """Return the leads and prospects in the user's scope."""
        return policy.visible(user, self)

    def prospects(self) -> LeadQuerySet:
        """Return people not yet leads."""
        return self.filter(status=LeadStatus.PROSPECT)

    def open(self) -> LeadQuerySet:
        """Return records not yet converted."""
        return self.exclude(status=LeadStatus.CONVERTED)

    # ``exclude(email="")`` repeats the predicate of the partial unique index
    # lead_email_unique_ci: PostgreSQL uses a partial index only when the query
    # implies its WHERE, else lead capture and the CSV import scan every lead.
    # It changes no result: a blank e-mail never matches a lower-cased address.
    def with_email(self, email: str) -> LeadQuerySet:
        """Return the lead with this e-mail in any case (uses lead_email_unique_ci)."""
        return self.exclude(email="").filter(Exact(Lower("email"), email.lower()))

    def with_emails(self, emails: list[str]) -> LeadQuerySet:
        """Return the leads whose e-mail is one of ``emails`` (lower-cased)."""
        leads = self.exclude(email="")
        if connections[self.db].vendor == "postgresql":
            return leads.filter(_EqualsAny(Lower("email"), list(emails)))
        return leads.filter(In(Lower("email"), emails))


class Lead(Versioned, TimeStamped):
    """A person, from prospect to converted lead (one record per e-mail)."""

    status = models.CharField(
        max_length=16,
        choices=LeadStatus.choices,
        default=LeadStatus.LEAD,
        verbose_name=_("status"),
    )
    first_name = models.CharField(
        max_length=100, blank=True, verbose_name=_("first name")
    )
    last_name = models.CharField(
        max_length=100, blank=True, verbose_name=_("last name")
    )
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = models.CharField(max_length=40, blank=True, verbose_name=_("phone"))
    job_title = models.CharField(
        max_length=120, blank=True, verbose_name=_("job title")
    )
    company_name = models.CharField(
        max_length=200, blank=True, verbose_name=_("company name")
    )
    channel = models.CharField(
        max_length=8, choices=Channel.choices, verbose_name=_("channel")
    )
    source = models.CharField(
        max_length=16, choices=Source.choices, verbose_name=_("source")
    )
    offer = models.ForeignKey(
        ContentOffer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        help_text=_("The content offer of the first capture."),
        verbose_name=_("offer"),
    )
    # No index of its own: lead_owner_new and lead_owner_status_new start with
    # owner, and one index fewer to maintain speeds up the bulk import.
    owner = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="leads",
        db_index=False,
        verbose_name=_("owner"),
    )
    score = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("score")
    )
    consent = models.BooleanField(default=False, verbose_name=_("consent"))
    # One timestamp per status reached, for the KPIs (time to qualify, etc.).
    became_lead_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("became lead at")
    )
    qualified_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("qualified at")
    )
    disqualified_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("disqualified at")
    )
    converted_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("converted at")
    )
    # Engagement, maintained by the services that record touches and activities.
    touch_count = models.PositiveIntegerField(default=0, verbose_name=_("touch count"))
    activity_count = models.PositiveIntegerField(
        default=0, verbose_name=_("activity count")
    )
    first_activity_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("first activity at")
    )
    last_activity_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last activity at")
    )
    # The end of the lead response time: the first outbound call, e-mail or
    # meeting done at or after became_lead_at (``pipeline.history.is_response``).
    # Kept exact in the same transaction by activity_log, activity_complete and
    # every promotion (which recomputes it), so the KPIs read a column rather
    # than probing each lead's activities.
    first_response_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("first response at")
    )
    # The buckets of the time to qualify and of the response time
    # (``crm.durations``): the lead KPIs' medians count a period's leads per
    # bucket, then rank only the bucket holding the middle. Computed by the
    # database on every write, whichever path moves the moments.
    qualify_bucket = models.GeneratedField(
        expression=DurationBucket("qualified_at", "became_lead_at"),
        output_field=models.IntegerField(),
        db_persist=True,
        verbose_name=_("time to qualify bucket"),
    )
    response_bucket = models.GeneratedField(
        expression=DurationBucket("first_response_at", "became_lead_at"),
        output_field=models.IntegerField(),
        db_persist=True,
        verbose_name=_("response time bucket"),
    )
    # The global search's document (workspace/search.py): one GIN trigram index
    # on it serves every searched field at once. The database computes it on
    # every write (save, the capture's raw insert, the import's COPY, update()).
    search_text = models.GeneratedField(
        expression=Concat(
            "first_name",
            Value(" "),
            "last_name",
            Value(" "),
            "email",
            Value(" "),
            "company_name",
            output_field=models.TextField(),
        ),
        output_field=models.TextField(),
        db_persist=True,
        verbose_name=_("search text"),
    )

    objects = LeadQuerySet.as_manager()

    # Columns of the CSV export (API ``export/`` and admin action): header, field.
    CSV_COLUMNS = (
        ("id", "pk"),
        ("status", "status"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("job_title", "job_title"),
        ("company_name", "company_name"),
        ("channel", "channel"),
        ("source", "source"),
        ("offer", "offer__slug"),
        ("owner", "owner__username"),
        ("score", "score"),
        ("consent", "consent"),
        ("became_lead_at", "became_lead_at"),
        ("qualified_at", "qualified_at"),
        ("disqualified_at", "disqualified_at"),
        ("converted_at", "converted_at"),
        ("created_at", "created_at"),
    )

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            # The rep's lead list (API, ordering "-created_at", "-id"): filtered
            # by owner and status, newest first, rows read already in page order.
            models.Index(
                fields=["owner", "status", "-created_at", "-id"],
                name="lead_owner_status_new",
            ),
            # The rep's whole lead list, deep pages: the owner's rows come sorted
            # (the page's deals are fetched separately, see LeadViewSet). No
            # included column: one that an activity moves (first_activity_at)
            # would cost every logged activity a new entry in each lead index.
            models.Index(fields=["owner", "-created_at", "-id"], name="lead_owner_new"),
            # The same lead KPIs for one rep or a team, index-only (the
            # medians' buckets included).
            models.Index(
                fields=["owner", "became_lead_at"],
                include=[
                    "qualified_at",
                    "channel",
                    "source",
                    "offer",
                    "first_response_at",
                    "qualify_bucket",
                    "response_bucket",
                ],
                name="lead_owner_became_lead",
            ),
            models.Index(fields=["status", "-created_at"], name="lead_status_new"),
            # Lead KPIs (metrics/kpis/leads.py): the period's new leads by
            # channel/source/offer, those qualified by its end and the inbound
            # ones' response figures, in one index-only scan on PostgreSQL
            # (INCLUDE is ignored elsewhere: a plain became_lead_at index there).
            models.Index(
                fields=["became_lead_at"],
                include=[
                    "qualified_at",
                    "channel",
                    "source",
                    "offer",
                    "owner",
                    "first_response_at",
                ],
                name="lead_became_lead",
            ),
            # Lead KPIs: the response figures of a period's answered inbound
            # leads, counted per bucket for the median, from these entries
            # only (a third of the period's new leads), index-only.
            models.Index(
                fields=["became_lead_at"],
                include=["first_response_at", "owner", "response_bucket"],
                condition=Q(channel="inbound", first_response_at__isnull=False),
                name="lead_inbound_answered",
            ),
            # ... then the median ranks one bucket's leads of the period.
            models.Index(
                fields=["response_bucket", "became_lead_at"],
                include=["first_response_at", "owner"],
                condition=Q(channel="inbound", first_response_at__isnull=False),
                name="lead_response_bucket",
            ),
            models.Index(fields=["qualified_at"], name="lead_qualified_at"),
            # Lead KPIs (metrics/kpis.py, lead_kpis): the median time to qualify
            # of a period's new leads reads the qualified ones only (a quarter
            # of them), index-only, instead of every new lead of the period in
            # the wider lead_became_lead. "qualified_at < end" implies the
            # predicate, so the planner can use it.
            models.Index(
                fields=["became_lead_at"],
                include=["qualified_at", "qualify_bucket"],
                condition=Q(qualified_at__isnull=False),
                name="lead_qualified_became",
            ),
            # ... counted per bucket there, the median ranks one bucket's
            # qualified leads of the period.
            models.Index(
                fields=["qualify_bucket", "became_lead_at"],
                include=["qualified_at", "owner", "channel"],
                condition=Q(qualified_at__isnull=False),
                name="lead_qualify_bucket",
            ),
        ]
        constraints = [
            # A person is one lead.
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="lead_email_unique_ci",
                violation_error_message=_("A lead with this e-mail already exists."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=LeadStatus.values), name="lead_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="lead_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=Source.values), name="lead_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=100),
                name="lead_score_0_100",
            ),
            # Anything past "prospect" has entered "lead" at some moment.
            models.CheckConstraint(
                condition=Q(status=LeadStatus.PROSPECT)
                | Q(became_lead_at__isnull=False),
                name="lead_became_lead_at_set",
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or _("Lead #%(pk)s") % {"pk": self.pk}

    def clean(self) -> None:
        self.email = normalize_email(self.email)


def activities() -> Manager:
    """Return pipeline's activities (with its queryset's rules), reached through
    the reverse relation so that this app never imports ``pipeline``."""
    return Lead._meta.get_field("activities").related_model._default_manager


def first_response_since(since: Any) -> Subquery:
    """Return the outer lead's first response at or after ``since`` (a subquery).

    What ``Lead.first_response_at`` holds with ``since`` its ``became_lead_at``.
    A response is pipeline's rule (``ActivityQuerySet.responses``).
    Served by the ``activity_lead_at`` (lead, occurred_at) index.
    """
    return Subquery(
        activities()
        .responses()
        .filter(lead=OuterRef("pk"), occurred_at__gte=since)
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )


class Prospect(Lead):
    """Admin section for prospects: the same rows, status ``prospect``."""

    class Meta:
        verbose_name = _("prospect")
        verbose_name_plural = _("prospects")
        proxy = True


class Touch(models.Model):
    """One interaction of a person with our marketing (a content download, a form).

    A public capture never edits the person it names: what the form carried is
    kept in ``submitted`` for the owner to review and apply, and
    ``promoted_to_lead`` says whether this touch made a prospect a lead.
    """

    lead = models.ForeignKey(
        Lead, on_delete=models.PROTECT, related_name="touches", verbose_name=_("lead")
    )
    offer = models.ForeignKey(
        ContentOffer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="touches",
        verbose_name=_("offer"),
    )
    channel = models.CharField(
        max_length=8, choices=Channel.choices, verbose_name=_("channel")
    )
    source = models.CharField(
        max_length=16, choices=Source.choices, verbose_name=_("source")
    )
    occurred_at = models.DateTimeField(db_index=True, verbose_name=_("occurred at"))
    ip_address = models.GenericIPAddressField(
        null=True, blank=True, verbose_name=_("ip address")
    )
    page_url = models.URLField(max_length=500, blank=True, verbose_name=_("page url"))
    user_agent = models.CharField(
        max_length=300, blank=True, verbose_name=_("user agent")
    )
    # Database defaults too: bulk loaders (metrics/bench) insert touches with
    # their own column lists.
    submitted = models.JSONField(
        default=dict,
        db_default=Value({}, output_field=models.JSONField()),
        blank=True,
        help_text=_("What the form carried, as submitted."),
        verbose_name=_("submitted"),
    )
    promoted_to_lead = models.BooleanField(
        default=False, db_default=False, verbose_name=_("promoted to lead")
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("touch")
        verbose_name_plural = _("touches")
        indexes = [
            models.Index(fields=["lead", "occurred_at"]),
            # "New leads by content offer" counts touches per offer in a period.
            models.Index(fields=["offer", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return _("%(lead)s: %(source)s on %(day)s") % {
            "lead": self.lead,
            "source": self.get_source_display(),
            "day": formatting.day(self.occurred_at),
        }


class Qualification(models.Model):
    """One qualification decision (BANT criteria and score); history is kept."""

    lead = models.ForeignKey(
        Lead,
        on_delete=models.PROTECT,
        related_name="qualifications",
        verbose_name=_("lead"),
    )
    decision = models.CharField(
        max_length=16, choices=Decision.choices, verbose_name=_("decision")
    )
    budget = models.BooleanField(default=False, verbose_name=_("budget"))
    authority = models.BooleanField(default=False, verbose_name=_("authority"))
    need = models.BooleanField(default=False, verbose_name=_("need"))
    timeline = models.BooleanField(default=False, verbose_name=_("timeline"))
    score = models.PositiveSmallIntegerField(verbose_name=_("score"))
    reason = models.CharField(
        max_length=16,
        choices=DisqualificationReason.choices,
        blank=True,
        verbose_name=_("reason"),
    )
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("decided by")
    )
    decided_at = models.DateTimeField(verbose_name=_("decided at"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        ordering = ["-decided_at"]
        indexes = [models.Index(fields=["lead", "-decided_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__lte=100), name="qualification_score_0_100"
            ),
            models.CheckConstraint(
                condition=Q(decision=Decision.QUALIFIED) | ~Q(reason=""),
                name="disqualification_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return _("%(lead)s: %(decision)s (score %(score)s)") % {
            "lead": self.lead,
            "decision": self.get_decision_display(),
            "score": self.score,
        }


# The wording of the capture forms' consent box; each record keeps the text the
# person saw, so a later change of wording does not rewrite what they agreed to.
# Shown beside the checkbox and stored with a capture's consent in the offer's
# language (the page's), with a user's entry in that user's.
CONSENT_TEXT = _("You may contact me about this content and related offers.")


class ConsentAction(models.TextChoices):
    REQUESTED = "requested", _("Requested (awaiting e-mail confirmation)")
    GIVEN = "given", _("Given")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentRecord(AppendOnly):
    """One piece of consent evidence for a person: append-only.

    A public form only *requests* consent: it counts once the person confirms
    through the signed link e-mailed to them (double opt-in), which appends a
    ``given`` record pointing at the request. ``Lead.consent`` is the current
    state, maintained by the services that append these rows.
    """

    history = "The consent history"

    lead = models.ForeignKey(
        Lead,
        on_delete=models.PROTECT,
        related_name="consent_records",
        verbose_name=_("lead"),
    )
    action = models.CharField(
        max_length=16, choices=ConsentAction.choices, verbose_name=_("action")
    )
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"))
    offer = models.ForeignKey(
        ContentOffer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The offer whose form asked for it."),
        verbose_name=_("offer"),
    )
    text = models.TextField(
        help_text=_("The wording the person agreed to or withdrew."),
        verbose_name=_("text"),
    )
    recorded_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The user who recorded it; empty when the person acted."),
        verbose_name=_("recorded by"),
    )
    confirms = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="confirmation",
        help_text=_("The request this confirmation answers (double opt-in)."),
        verbose_name=_("confirms"),
    )
    ip_address = models.GenericIPAddressField(
        null=True, blank=True, verbose_name=_("ip address")
    )

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at", "-pk"]
        indexes = [
            models.Index(fields=["lead", "-recorded_at"]),
            # The sweep of unsent confirmation e-mails
            # (leads.tasks.send_pending_consent_emails): the last day's requests.
            models.Index(
                fields=["recorded_at"],
                condition=Q(action="requested"),
                name="consent_request_recorded",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=ConsentAction.values),
                name="consent_action_valid",
            ),
            # Only a "given" record may confirm a request.
            models.CheckConstraint(
                condition=Q(confirms__isnull=True) | Q(action=ConsentAction.GIVEN),
                name="consent_confirmation_is_given",
            ),
        ]

    def __str__(self) -> str:
        return _("%(lead)s: %(action)s on %(day)s") % {
            "lead": self.lead,
            "action": self.get_action_display(),
            "day": formatting.day(self.recorded_at),
        }


class ConsentEmail(AppendOnly):
    """The double opt-in e-mail sent for one consent request: one at most.

    The job sending it (``leads.tasks.send_consent_email``) inserts this row in
    the transaction around the sending, with the request locked, so a retry or
    a second run of the job finds the row and sends nothing again; a failed
    sending rolls the row back for the next attempt.
    """

    history = "The consent e-mails"

    request = models.OneToOneField(
        ConsentRecord,
        on_delete=models.PROTECT,
        related_name="email",
        verbose_name=_("consent request"),
    )
    sent_at = models.DateTimeField(verbose_name=_("sent at"))
    language = models.CharField(max_length=8, verbose_name=_("language"))

    class Meta:
        verbose_name = _("consent e-mail")
        verbose_name_plural = _("consent e-mails")

    def __str__(self) -> str:
        return _("Confirmation e-mail sent on %(day)s") % {
            "day": formatting.day(self.sent_at)
        }


class LeadStatusChange(AppendOnly):
    """One status a person reached, when and by whom. Never updated or deleted.

    The first row of a record has no ``from_status``: it says what the record
    was created as. The lead services write a row in the same transaction as
    every status change (as ``StageChange`` for deals), and the lead KPIs read
    them ("prospects added" counts records created as prospects, exactly).
    """

    history = "Lead status history"

    # The lead's own record of itself: an admin's deletion of a lead entered
    # by mistake (allowed only while nothing PROTECTs it) takes its status
    # rows along, so the KPIs never count a person who is not there.
    lead = models.ForeignKey(
        Lead,
        on_delete=models.CASCADE,
        related_name="status_changes",
        verbose_name=_("lead"),
    )
    from_status = models.CharField(
        max_length=16,
        choices=LeadStatus.choices,
        blank=True,
        verbose_name=_("from status"),
    )
    to_status = models.CharField(
        max_length=16, choices=LeadStatus.choices, verbose_name=_("to status")
    )
    changed_at = models.DateTimeField(verbose_name=_("changed at"))
    changed_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("changed by"),
    )

    class Meta:
        verbose_name = _("lead status change")
        verbose_name_plural = _("lead status changes")
        ordering = ["changed_at", "pk"]
        indexes = [
            models.Index(fields=["lead", "changed_at"], name="leadstatus_lead_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_status__in=LeadStatus.values),
                name="leadstatus_to_status_valid",
            ),
        ]

    def __str__(self) -> str:
        names = {
            "lead": self.lead_id,
            "from": self.get_from_status_display(),
            "to": self.get_to_status_display(),
        }
        if not self.from_status:
            return _("Record #%(lead)s: created as %(to)s") % names
        return _("Record #%(lead)s: %(from)s → %(to)s") % names


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", pgettext_lazy("import status", "Done")
    FAILED = "failed", _("Failed")


class ImportModeChoice(models.TextChoices):
    # The values of leads.importing.ImportMode (which this module cannot import).
    ALL_OR_NOTHING = "all-or-nothing", _("All or nothing")
    KEEP_VALID = "keep-valid", _("Keep the valid rows")


class LeadImport(Job):
    """One uploaded CSV file and the background job that imports it.

    Created with the upload (``leads.import_jobs.lead_import_start``); the job
    fills the counters and the report when it ends. While it runs, its
    progress is published through the shared cache (the import's own
    transaction hides its rows from other connections until it commits).
    ``status`` says whether the job ran to its end; ``saved`` whether rows
    were written (an all-or-nothing import that met a bad row is done, not
    saved).
    """

    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    file = models.FileField(
        upload_to="imports/%Y/%m/", max_length=255, verbose_name=_("file")
    )
    filename = models.CharField(max_length=255, verbose_name=_("file name"))
    size = models.PositiveBigIntegerField(default=0, verbose_name=_("size"))
    mode = models.CharField(
        max_length=16,
        choices=ImportModeChoice.choices,
        default=ImportModeChoice.ALL_OR_NOTHING,
        verbose_name=_("mode"),
    )
    status = models.CharField(
        max_length=8,
        choices=ImportStatus.choices,
        default=ImportStatus.QUEUED,
        verbose_name=_("status"),
    )
    saved = models.BooleanField(default=False, verbose_name=_("saved"))
    rows = models.PositiveIntegerField(default=0, verbose_name=_("rows"))
    created = models.PositiveIntegerField(default=0, verbose_name=_("created"))
    merged = models.PositiveIntegerField(default=0, verbose_name=_("merged"))
    rejected_count = models.PositiveIntegerField(
        default=0, verbose_name=_("rejected count")
    )
    # The first rejected rows, [{"line": n, "reason": "..."}], in line order.
    rejected = models.JSONField(default=list, blank=True, verbose_name=_("rejected"))

    class Meta:
        verbose_name = _("lead import")
        verbose_name_plural = _("lead imports")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # A rep's imports, newest first (GET /api/v1/imports/).
            models.Index(fields=["created_by", "-created_at"], name="leadimport_by"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values),
                name="leadimport_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Import #%(pk)s %(filename)s (%(status)s)") % {
            "pk": self.pk,
            "filename": self.filename,
            "status": self.get_status_display(),
        }


class LeadStatusDaily(models.Model):
    """Status changes summed per day, owner, channel and transition: an exact rollup.

    Kept by ``leads.rollups`` in the transaction of each ``LeadStatusChange``
    (and moved with a lead whose owner or channel changes), so the lead KPIs
    count a few rows per day and owner instead of every change. The day is in
    the CRM's time zone; owner and channel are the lead's current ones, as the
    KPIs' segments filter. ``verify_rollups`` recomputes it from the history.
    """

    day = models.DateField()
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Blank: what the records were created as.
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, choices=LeadStatus.choices)
    changes = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily lead status rollup")
        verbose_name_plural = _("daily lead status rollups")
        ordering = ["day", "owner", "channel", "from_status", "to_status"]
        constraints = [
            # The upserts' conflict target; also serves the KPIs' day range.
            models.UniqueConstraint(
                fields=["day", "owner", "channel", "from_status", "to_status"],
                name="leadstatusdaily_key",
            ),
        ]
        indexes = [
            # "Prospects added" (metrics/kpis/leads.py): the records created
            # as prospects, a sixth of the rows, read index-only rather than
            # every transition of the period's days from the key.
            models.Index(
                fields=["day"],
                include=["owner", "channel", "changes"],
                condition=Q(from_status="", to_status=LeadStatus.PROSPECT),
                name="leadstatusdaily_prospects",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.from_status}->{self.to_status}"


class NewLeadDaily(models.Model):
    """New leads counted per day, channel, source and offer: an exact rollup.

    A lead counts on the day it became one (``became_lead_at``, in the CRM's
    time zone), under its current channel, source and offer, as the lead KPIs
    count it. No owner: it serves the organisation's figures, which would
    otherwise scan every new lead of the period (a quarter at a million leads
    holds about 85,000 of them, in at most a few dozen combinations a day);
    a team's or a rep's few leads are read from the leads themselves. Kept by
    ``leads.rollups`` in the transaction of each change;
    ``verify_rollups`` recomputes it from the leads.
    """

    day = models.DateField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    # The offer's id, 0 for none: a NULL would make every such row its own
    # key (NULLs are distinct in a unique index), defeating the upsert.
    offer_key = models.PositiveIntegerField(default=0)
    leads = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily new lead rollup")
        verbose_name_plural = _("daily new lead rollups")
        ordering = ["day", "channel", "source", "offer_key"]
        constraints = [
            # The upserts' conflict target; also serves the KPIs' day range.
            models.UniqueConstraint(
                fields=["day", "channel", "source", "offer_key"],
                name="newleaddaily_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.source} {self.offer_key}: {self.leads}"


class NewProspectDaily(models.Model):
    """Records created as prospects, per day and channel: an exact rollup.

    The organisation's "prospects added": a record's first status row, from
    nothing to prospect (``LeadStatusDaily``'s ``"" -> prospect`` rows
    without their owner, as a quarter sums them over every rep's days), on
    the day it was created (in the CRM's time zone), under the record's
    current channel. A team's or a rep's are read from the status rollup.
    Kept by ``leads.rollups`` with the status rollup, in the transaction of
    each change (a record created, moved to another channel, deleted);
    ``verify_rollups`` recomputes it from the status history.
    """

    day = models.DateField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    prospects = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily new prospect rollup")
        verbose_name_plural = _("daily new prospect rollups")
        ordering = ["day", "channel"]
        constraints = [
            # The upserts' conflict target; also serves the KPIs' day range.
            models.UniqueConstraint(
                fields=["day", "channel"], name="newprospectdaily_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}: {self.prospects}"


class DurationMeasure(models.TextChoices):
    """The two durations of a lead the KPIs take medians of."""

    QUALIFY = "qualify", _("time to qualify")
    RESPONSE = "response", _("response time")


class LeadDurations(models.Model):
    """What the duration rollups count under a period and an end (their key
    beside it), and their sums."""

    measure = models.CharField(max_length=8, choices=DurationMeasure.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    bucket = models.IntegerField()
    leads = models.IntegerField(default=0)
    # The durations' sum, exact (a mean in minutes needs no rounding before).
    microseconds = models.BigIntegerField(default=0)
    # Those lasting exactly their bucket's start: with a service level of
    # whole minutes or hours (a bucket's start), those answered exactly on
    # it are in time; the rest of its bucket is late.
    on_edge = models.IntegerField(default=0)

    # The name of the subclass's period field (its day, its month).
    period_field = ""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        period = getattr(self, self.period_field)
        return f"{period} {self.measure} {self.channel} {self.bucket}: {self.leads}"


class LeadDurationDaily(LeadDurations):
    """The organisation's times to qualify and to answer, counted per bucket.

    A lead counts on the day it became one (``became_lead_at``, in the CRM's
    time zone), under its current channel, the bucket of its duration
    (``crm.durations``: the same number as ``Lead.qualify_bucket`` and
    ``response_bucket``) and the day the duration ended (qualified, first
    answered: "qualified by the end of the period" is ``end_day <= end``).
    The response counts only inbound leads, as its KPIs do. With the summed
    durations, the organisation's medians, means and service level are read
    from a few hundred rows a day, however many leads there are: the
    period's leads per bucket, then a ranking of the one bucket holding the
    middle. No owner: a team's or a rep's leads are read from the leads.
    Kept by ``leads.rollups`` in the transaction of each change;
    ``verify_rollups`` recomputes it from the leads.
    """

    day = models.DateField()
    end_day = models.DateField()
    period_field = "day"

    class Meta:
        verbose_name = _("daily lead duration rollup")
        verbose_name_plural = _("daily lead duration rollups")
        ordering = ["day", "measure", "channel", "bucket", "end_day"]
        constraints = [
            # The upserts' conflict target; the KPIs read a measure's days.
            models.UniqueConstraint(
                fields=["measure", "day", "channel", "bucket", "end_day"],
                name="leaddurationdaily_key",
            ),
        ]


class LeadDurationMonthly(LeadDurations):
    """The daily lead duration rollup summed per month the leads became ones
    and month their durations ended (the first day of each, in the CRM's time
    zone).

    A period of whole months (a quarter, a month) reads its months here: a
    few thousand rows, however many leads and however long the history; "by
    the end of the period" is ``end_month`` up to the period's last month.
    The days of a month a period cuts are read from ``LeadDurationDaily``.
    Kept by ``leads.rollups`` with the daily rows, rebuilt and checked with
    them.
    """

    month = models.DateField()
    end_month = models.DateField()
    period_field = "month"

    class Meta:
        verbose_name = _("monthly lead duration rollup")
        verbose_name_plural = _("monthly lead duration rollups")
        ordering = ["month", "measure", "channel", "bucket", "end_month"]
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "month", "channel", "bucket", "end_month"],
                name="leaddurationmonthly_key",
            ),
        ]
