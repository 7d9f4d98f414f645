"""KPI targets, and the proxy model that puts the KPI dashboard in the admin.

The KPIs themselves are computed on demand in ``metrics.kpis``; only the targets a
manager sets are stored.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from crm.models import Team, User
from crm.reference import normalize_currency
from crm.visibility import NOTHING, owner_scope


class KpiKey(models.TextChoices):
    CUSTOMER_CHURN_RATE = "customer_churn_rate", "Customer churn rate"
    RETENTION_RATE = "retention_rate", "Retention rate"
    GROSS_MRR_CHURN_RATE = "gross_mrr_churn_rate", "Gross MRR churn rate"
    MRR_START = "mrr_start", "MRR on start"
    MRR_END = "mrr_end", "MRR on end"
    NEW_MRR = "new_mrr", "New MRR"
    CHURNED_MRR = "churned_mrr", "Churned MRR"
    NEW_LEADS = "new_leads", "New leads"
    PROSPECTS_ADDED = "prospects_added", "Prospects added"
    LEAD_TO_QUALIFIED_RATE = "lead_to_qualified_rate", "Lead-to-qualified conversion"
    MEDIAN_HOURS_TO_QUALIFY = "median_hours_to_qualify", "Median time to qualify"
    MEDIAN_LEAD_RESPONSE_MINUTES = (
        "median_lead_response_minutes",
        "Median lead response time",
    )
    COLD_CALLS = "cold_calls", "Cold calls"
    COLD_CALL_CONNECT_RATE = "cold_call_connect_rate", "Cold call connect rate"
    COLD_CALLS_TO_LEADS = (
        "cold_calls_to_leads",
        "Cold-called prospects who became leads",
    )
    WIN_RATE = "win_rate", "Win rate"
    AVERAGE_DEAL_SIZE = "average_deal_size", "Average deal size"
    REVENUE_WON = "revenue_won", "Revenue won"
    AVERAGE_SALES_CYCLE_DAYS = "average_sales_cycle_days", "Average sales cycle"
    PIPELINE_VALUE = "pipeline_value", "Pipeline value"
    WEIGHTED_PIPELINE = "weighted_pipeline", "Weighted pipeline"
    SALES_VELOCITY_PER_DAY = "sales_velocity_per_day", "Sales velocity per day"


# KPIs reported per currency: their targets name a currency.
MONEY_KPIS = frozenset(
    {
        KpiKey.MRR_START,
        KpiKey.MRR_END,
        KpiKey.NEW_MRR,
        KpiKey.CHURNED_MRR,
        KpiKey.AVERAGE_DEAL_SIZE,
        KpiKey.REVENUE_WON,
        KpiKey.PIPELINE_VALUE,
        KpiKey.WEIGHTED_PIPELINE,
        KpiKey.SALES_VELOCITY_PER_DAY,
    }
)


class PeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"


def period_end(kind: str, start: datetime.date) -> datetime.date:
    """Return the last day of the month or quarter starting on ``start``."""
    months = 3 if kind == PeriodKind.QUARTER else 1
    month_index = start.year * 12 + start.month - 1 + months
    next_start = datetime.date(month_index // 12, month_index % 12 + 1, 1)
    return next_start - datetime.timedelta(days=1)


class KpiTargetQuerySet(models.QuerySet["KpiTarget"]):
    def visible_to(self, user: User) -> KpiTargetQuerySet:
        """Return the targets a user may read.

        Admins and integrations read all; a manager the organisation's, their
        teams' and their reps' (and their own); a rep only their own.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        if user.role == "manager":
            return self.filter(
                Q(team__isnull=True, owner__isnull=True)
                | Q(team__manager=user)
                | owner_scope(user, "owner")
            )
        return self.filter(owner_scope(user, "owner") & Q(owner__isnull=False))

    def changeable_by(self, user: User) -> KpiTargetQuerySet:
        """Return the targets a user may set: admins all, managers their teams'."""
        return self.filter(target_scope_q(user))


def target_scope_q(user: User) -> Q:
    """Return the filter on targets ``user`` may create or change."""
    if not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.is_superuser:
        return Q()
    if user.role == "manager":
        return Q(team__manager=user) | Q(owner__team__manager=user)
    return NOTHING


def may_set_target(user: User, *, team: Team | None, owner: User | None) -> bool:
    """Return True when ``user`` may set a target for this scope.

    Admins set any target, managers those of the teams they manage and of
    those teams' reps; nobody else sets targets. ``owner.team`` is read.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if user.role != "manager":
        return False
    if owner is not None:
        return owner.team is not None and owner.team.manager_id == user.pk
    return team is not None and team.manager_id == user.pk


class KpiTarget(models.Model):
    """The value a KPI should reach over one month or quarter, for one scope."""

    kpi = models.CharField(max_length=32, choices=KpiKey.choices)
    period_kind = models.CharField(max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField(
        help_text="First day of the month, or of the quarter (Jan, Apr, Jul, Oct)."
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="kpi_targets",
        help_text="Leave team and rep empty for an organisation-wide target.",
    )
    owner = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="kpi_targets",
        verbose_name="rep",
    )
    value = models.DecimalField(
        max_digits=16,
        decimal_places=4,
        help_text="Rates as fractions (0.25 for 25%), money in the currency below.",
    )
    currency = models.CharField(
        max_length=3, blank=True, help_text="Required for money KPIs only."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = KpiTargetQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "kpi"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True) | Q(owner__isnull=True),
                name="kpitarget_one_scope",
                violation_error_message="Set a team or a rep, not both.",
            ),
            models.CheckConstraint(
                condition=Q(kpi__in=KpiKey.values), name="kpitarget_kpi_valid"
            ),
            models.CheckConstraint(
                condition=Q(period_kind__in=PeriodKind.values),
                name="kpitarget_period_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0), name="kpitarget_value_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(period_start__day=1)
                & (
                    Q(period_kind=PeriodKind.MONTH)
                    | Q(period_start__month__in=[1, 4, 7, 10])
                ),
                name="kpitarget_period_start_first_day",
                violation_error_message="A period starts on the first day of a "
                "month or quarter.",
            ),
            # NULLs are distinct in a plain unique constraint, hence one per scope.
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start"],
                condition=Q(team__isnull=True, owner__isnull=True),
                name="kpitarget_unique_organisation",
                violation_error_message="This KPI already has a target for "
                "the organisation in this period.",
            ),
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start", "team"],
                condition=Q(team__isnull=False),
                name="kpitarget_unique_team",
                violation_error_message="This KPI already has a target for "
                "this team in this period.",
            ),
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start", "owner"],
                condition=Q(owner__isnull=False),
                name="kpitarget_unique_owner",
                violation_error_message="This KPI already has a target for "
                "this rep in this period.",
            ),
        ]
        indexes = [
            # Target lookup of a KPI report: every KPI of one period.
            models.Index(
                fields=["period_start", "period_kind"], name="kpitarget_period"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kpi_display()} {self.period_start:%Y-%m} ({self.scope_label})"
        )

    @property
    def scope_label(self) -> str:
        if self.owner_id:
            return str(self.owner)
        if self.team_id:
            return str(self.team)
        return "organisation"

    @property
    def period_end(self) -> datetime.date:
        return period_end(self.period_kind, self.period_start)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.period_start:
            quarter_month = self.period_start.month in (1, 4, 7, 10)
            if self.period_start.day != 1 or (
                self.period_kind == PeriodKind.QUARTER and not quarter_month
            ):
                errors["period_start"] = (
                    "Use the first day of the quarter (1 Jan, 1 Apr, 1 Jul, 1 Oct)."
                    if self.period_kind == PeriodKind.QUARTER
                    else "Use the first day of the month."
                )
        if self.currency:
            try:
                self.currency = normalize_currency(self.currency)
            except ValidationError as exc:
                errors["currency"] = exc.messages[0]
        if self.kpi in MONEY_KPIS and not self.currency:
            errors["currency"] = "A money KPI's target needs a currency."
        if self.kpi and self.kpi not in MONEY_KPIS and self.currency:
            errors["currency"] = "Only money KPIs take a currency."
        if self.team_id and self.owner_id:
            errors["owner"] = "Set a team or a rep, not both."
        if errors:
            raise ValidationError(errors)


class Dashboard(KpiTarget):
    """Admin entry for the KPI dashboard page (no rows of its own)."""

    class Meta:
        proxy = True
        verbose_name = "KPI dashboard"
        verbose_name_plural = "KPI dashboard"
