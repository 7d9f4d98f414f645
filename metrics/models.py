"""KPI targets, and the proxy model that puts the KPI dashboard in the admin.

The KPIs themselves are computed on demand in ``metrics.kpis`` (and defined in
its registry); only the targets a manager sets are stored.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm import formatting, policy
from crm.models import Team, User, Versioned
from crm.reference import normalize_currency
from metrics.kpis.registry import BY_KEY, COUNT, RATE, Kpi, KpiKey


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


def period_end(kind: str, start: datetime.date) -> datetime.date:
    """Return the last day of the month or quarter starting on ``start``."""
    months = 3 if kind == PeriodKind.QUARTER else 1
    month_index = start.year * 12 + start.month - 1 + months
    next_start = datetime.date(month_index // 12, month_index % 12 + 1, 1)
    return next_start - datetime.timedelta(days=1)


class KpiTargetQuerySet(models.QuerySet["KpiTarget"]):
    def visible_to(self, user: User) -> KpiTargetQuerySet:
        """Return the targets a user may read (``policy.kpi_target_scope``)."""
        return policy.visible(user, self)


def _unit_error(kpi: Kpi, value: Decimal) -> str:
    """Return why ``value`` is not a target in the KPI's own unit, or ""."""
    if kpi.unit is RATE and not kpi.exceeds_one and value > 1:
        return _(
            "A rate target is a fraction from 0 to 1 (0.25 for 25%%), not %(value)s."
        ) % {"value": formatting.number_pattern(value, "#,##0.####")}
    if kpi.unit is COUNT and value != value.to_integral_value():
        return _("A count target is a whole number.")
    return ""


class KpiTarget(Versioned, models.Model):
    """The value a KPI should reach over one month or quarter, for one scope."""

    kpi = models.CharField(max_length=32, choices=KpiKey.choices, verbose_name=_("KPI"))
    period_kind = models.CharField(
        max_length=8, choices=PeriodKind.choices, verbose_name=_("period kind")
    )
    period_start = models.DateField(
        help_text=_("First day of the month, or of the quarter (Jan, Apr, Jul, Oct)."),
        verbose_name=_("period start"),
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="kpi_targets",
        help_text=_("Leave team and rep empty for an organisation-wide target."),
        verbose_name=_("team"),
    )
    owner = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="kpi_targets",
        verbose_name=_("rep"),
    )
    value = models.DecimalField(
        max_digits=16,
        decimal_places=4,
        help_text=_("Rates as fractions (0.25 for 25%), money in the currency below."),
        verbose_name=_("value"),
    )
    currency = models.CharField(
        max_length=3,
        blank=True,
        help_text=_("Required for money KPIs only."),
        verbose_name=_("currency"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = KpiTargetQuerySet.as_manager()

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        ordering = ["-period_start", "kpi"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True) | Q(owner__isnull=True),
                name="kpitarget_one_scope",
                violation_error_message=_("Set a team or a rep, not both."),
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
                violation_error_message=_(
                    "A period starts on the first day of a month or quarter."
                ),
            ),
            # NULLs are distinct in a plain unique constraint, hence one per scope.
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start"],
                condition=Q(team__isnull=True, owner__isnull=True),
                name="kpitarget_unique_organisation",
                violation_error_message=_(
                    "This KPI already has a target for the organisation in this period."
                ),
            ),
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start", "team"],
                condition=Q(team__isnull=False),
                name="kpitarget_unique_team",
                violation_error_message=_(
                    "This KPI already has a target for this team in this period."
                ),
            ),
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start", "owner"],
                condition=Q(owner__isnull=False),
                name="kpitarget_unique_owner",
                violation_error_message=_(
                    "This KPI already has a target for this rep in this period."
                ),
            ),
        ]
        indexes = [
            # Target lookup of a KPI report: every KPI of one period.
            models.Index(
                fields=["period_start", "period_kind"], name="kpitarget_period"
            )
        ]

    def __str__(self) -> str:
        return _("%(kpi)s, %(period)s (%(scope)s)") % {
            "kpi": self.get_kpi_display(),
            "period": self.period_label,
            "scope": self.scope_label,
        }

    @property
    def period_label(self) -> str:
        """Return the month (``November 2025``) or quarter (``Q4 2025``)."""
        if self.period_kind == PeriodKind.QUARTER:
            return _("Q%(quarter)d %(year)d") % {
                "quarter": (self.period_start.month - 1) // 3 + 1,
                "year": self.period_start.year,
            }
        return formatting.month(self.period_start)

    @property
    def scope_label(self) -> str:
        if self.owner_id:
            return str(self.owner)
        if self.team_id:
            return str(self.team)
        return str(_("organisation"))

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
                    _("Use the first day of the quarter (1 Jan, 1 Apr, 1 Jul, 1 Oct).")
                    if self.period_kind == PeriodKind.QUARTER
                    else _("Use the first day of the month.")
                )
        if self.currency:
            try:
                self.currency = normalize_currency(self.currency)
            except ValidationError as exc:
                errors["currency"] = exc.messages[0]
        kpi = BY_KEY.get(self.kpi)
        if kpi is not None and kpi.takes_currency and not self.currency:
            errors["currency"] = _("A money KPI's target needs a currency.")
        if kpi is not None and not kpi.takes_currency and self.currency:
            errors["currency"] = _("Only money KPIs take a currency.")
        if kpi is not None and self.value is not None:
            unit_error = _unit_error(kpi, self.value)
            if unit_error:
                errors["value"] = unit_error
        if self.team_id and self.owner_id:
            errors["owner"] = _("Set a team or a rep, not both.")
        if errors:
            raise ValidationError(errors)


class Dashboard(KpiTarget):
    """Admin entry for the KPI dashboard page (no rows of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("KPI dashboard")
        verbose_name_plural = _("KPI dashboard")


class DataChange(models.Model):
    """One in-place edit of a record the KPIs read (append-only).

    The ledgers record every status, stage, activity, touch and MRR movement;
    what they do not see is an edit in place (a deal's amount, a lead given to
    another rep, a rep moved to another team, a target). Each such edit appends
    a row here in the same transaction (``metrics.data_version``), so the
    dashboard's data version moves with it.
    """

    model = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("data change")

    def __str__(self) -> str:
        return _("%(model)s %(id)s on %(moment)s") % {
            "model": self.model,
            "id": self.object_id,
            "moment": formatting.moment(self.changed_at),
        }
