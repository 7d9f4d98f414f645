"""People, teams, the shared address book and customers with their subscriptions."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Lower
from django.utils.translation import gettext_lazy as _

from crm import limits, policy, reference
from crm.policy import Role


def default_currency() -> str:
    return settings.CRM_DEFAULT_CURRENCY


class ScopedQuerySet(models.QuerySet):
    """A queryset whose rows ``visible_to(user)`` narrows to the user's scope."""

    def visible_to(self, user: User):
        """Return the rows ``user`` may read (``crm.policy.visible_scope``)."""
        return policy.visible(user, self)


class TimeStamped(models.Model):
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        abstract = True


class AppendOnly(models.Model):
    """History rows: written once, never changed or deleted (``history`` names them).

    KPIs of closed periods read these rows; refusing edits here keeps them
    from changing after the fact whatever code path tries.
    """

    history = "This history"

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError(f"{self.history} is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{self.history} is append-only.")


class Versioned(models.Model):
    """A record changed under optimistic locking (``crm.versioning``)."""

    # Bumped by every change, returned to API clients as the ETag; not editable
    # in forms or serializers, only ``crm.versioning`` and services move it.
    # The database default serves the bulk writers that insert rows in SQL
    # (the CSV import, the benchmark's generator).
    version = models.PositiveIntegerField(
        default=1, db_default=1, editable=False, verbose_name=_("version")
    )

    class Meta:
        abstract = True


class User(TimeStamped, AbstractUser):
    """A person or machine using the CRM; superusers are the admins."""

    role = models.CharField(
        max_length=16, choices=Role.choices, default=Role.REP, verbose_name=_("role")
    )
    team = models.ForeignKey(
        "Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        help_text=_("A rep belongs to at most one team."),
        verbose_name=_("team"),
    )
    # Blank: the browser's language (Accept-Language) applies (crm.language).
    # The database default serves the bulk writers that insert users in SQL.
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        db_default="",
        verbose_name=_("language"),
        help_text=_("The language of the pages; blank follows the browser."),
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=Role.values), name="user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        # The dashboard's rep picker writes the same from tuples (NameChoices).
        return self.get_full_name() or self.username

    @property
    def sees_everything(self) -> bool:
        """Return True for admins and integrations, whose scope is the whole CRM."""
        return policy.sees_everything(self)

    @property
    def is_sales_user(self) -> bool:
        return policy.is_sales_user(self)


class Team(TimeStamped):
    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    manager = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="managed_teams",
        verbose_name=_("manager"),
    )
    handles_inbound = models.BooleanField(
        default=False,
        help_text=_(
            "Inbound leads (content captures) are assigned round robin "
            "among this team's active reps."
        ),
        verbose_name=_("handles inbound"),
    )
    # Position of the round-robin for inbound leads; advanced under a row lock.
    inbound_cursor = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("inbound cursor")
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            # One team receives the inbound leads.
            models.UniqueConstraint(
                fields=["handles_inbound"],
                condition=Q(handles_inbound=True),
                name="team_single_inbound_team",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CompanyQuerySet(models.QuerySet["Company"]):
    def visible_to(self, user: User) -> CompanyQuerySet:
        """Return the companies a user may read: the address book is shared."""
        return policy.visible(user, self)

    def changeable_by(self, user: User) -> CompanyQuerySet:
        """Return the companies a user may change: own, own team's, or all."""
        return policy.changeable(user, self)


class Company(Versioned, TimeStamped):
    name = models.CharField(max_length=200, db_index=True, verbose_name=_("name"))
    domain = models.CharField(
        max_length=253,
        blank=True,
        help_text=_("Website domain, e.g. example.com"),
        verbose_name=_("domain"),
    )
    industry = models.CharField(max_length=100, blank=True, verbose_name=_("industry"))
    employees = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(limits.MAX_EMPLOYEES)],
        verbose_name=_("employees"),
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text=_("ISO 3166 code"),
        verbose_name=_("country"),
    )
    owner = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="companies",
        verbose_name=_("owner"),
    )
    # The global search's document (workspace/search.py), as Lead.search_text.
    search_text = models.GeneratedField(
        expression=Concat(
            "name", Value(" "), "domain", output_field=models.TextField()
        ),
        output_field=models.TextField(),
        db_persist=True,
        verbose_name=_("search text"),
    )

    objects = CompanyQuerySet.as_manager()

    # Columns of the CSV export (API ``export/`` and admin action): header, field.
    CSV_COLUMNS = (
        ("id", "pk"),
        ("name", "name"),
        ("domain", "domain"),
        ("industry", "industry"),
        ("employees", "employees"),
        ("country", "country"),
        ("owner", "owner__username"),
        ("created_at", "created_at"),
    )

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.UniqueConstraint(
                Lower("domain"),
                condition=~Q(domain=""),
                name="company_domain_unique_ci",
                violation_error_message=_("A company with this domain already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Normalise the domain and the country (the admin, API and import agree)."""
        self.domain = reference.normalize_domain(self.domain)
        try:
            self.country = reference.normalize_country(self.country)
        except ValidationError as exc:
            raise ValidationError({"country": exc.messages}) from exc


class ContactQuerySet(models.QuerySet["Contact"]):
    def visible_to(self, user: User) -> ContactQuerySet:
        """Return the contacts a user may read: the address book is shared."""
        return policy.visible(user, self)


class Contact(Versioned, TimeStamped):
    first_name = models.CharField(max_length=100, verbose_name=_("first name"))
    last_name = models.CharField(max_length=100, verbose_name=_("last name"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = models.CharField(max_length=40, blank=True, verbose_name=_("phone"))
    job_title = models.CharField(
        max_length=120, blank=True, verbose_name=_("job title")
    )
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts",
        verbose_name=_("company"),
    )
    owner = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="contacts", verbose_name=_("owner")
    )
    # The global search's document (workspace/search.py), as Lead.search_text;
    # the company's name is searched through Company.search_text.
    search_text = models.GeneratedField(
        expression=Concat(
            "first_name",
            Value(" "),
            "last_name",
            Value(" "),
            "email",
            output_field=models.TextField(),
        ),
        output_field=models.TextField(),
        db_persist=True,
        verbose_name=_("search text"),
    )

    objects = ContactQuerySet.as_manager()

    CSV_COLUMNS = (
        ("id", "pk"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("job_title", "job_title"),
        ("company", "company__name"),
        ("owner", "owner__username"),
        ("created_at", "created_at"),
    )

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["last_name", "first_name"])]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="contact_email_unique_ci",
                violation_error_message=_("A contact with this e-mail already exists."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def clean(self) -> None:
        self.email = reference.normalize_email(self.email)


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    def visible_to(self, user: User) -> SubscriptionQuerySet:
        """Return the subscriptions in a user's scope, through the company owner."""
        return policy.visible(user, self)


class Subscription(Versioned, TimeStamped):
    """A company's paid plan: a company is a customer while one is running."""

    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="subscriptions",
        verbose_name=_("company"),
    )
    plan = models.CharField(max_length=100, verbose_name=_("plan"))
    mrr = models.DecimalField(
        _("monthly recurring revenue"),
        max_digits=12,
        decimal_places=2,
    )
    currency = models.CharField(
        max_length=3, default=default_currency, verbose_name=_("currency")
    )
    started_on = models.DateField(
        db_index=True, validators=[limits.validate_day], verbose_name=_("started on")
    )
    ended_on = models.DateField(
        null=True,
        blank=True,
        db_index=True,
        validators=[limits.validate_day],
        verbose_name=_("ended on"),
    )
    churn_reason = models.CharField(
        max_length=255, blank=True, verbose_name=_("churn reason")
    )
    ended_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("ended by"),
    )
    ended_recorded_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("ended recorded at")
    )
    # A plan change ends one subscription and starts its successor on the same
    # day (crm.services.subscription_change): each row's MRR never changes.
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        help_text=_("The subscription this one replaced by a plan change."),
        verbose_name=_("replaces"),
    )

    objects = SubscriptionQuerySet.as_manager()

    CSV_COLUMNS = (
        ("id", "pk"),
        ("company_id", "company_id"),
        ("company", "company__name"),
        ("plan", "plan"),
        ("mrr", "mrr"),
        ("currency", "currency"),
        ("started_on", "started_on"),
        ("ended_on", "ended_on"),
        ("churn_reason", "churn_reason"),
    )

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="subscription_ends_after_start",
                violation_error_message=_(
                    "A subscription cannot end before it starts."
                ),
            ),
            models.CheckConstraint(
                condition=Q(mrr__gte=0),
                name="subscription_mrr_not_negative",
                violation_error_message=_("MRR cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} - {self.plan}"

    def clean(self) -> None:
        errors = {}
        try:
            self.currency = reference.normalize_currency(self.currency)
        except ValidationError as exc:
            errors["currency"] = exc.messages
        if self.ended_on and self.started_on and self.ended_on < self.started_on:
            errors["ended_on"] = [_("A subscription cannot end before it starts.")]
        if errors:
            raise ValidationError(errors)

    @property
    def is_active(self) -> bool:
        return self.ended_on is None
