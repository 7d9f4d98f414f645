"""Input validation and output shape of the metrics API.

Exact numbers are decimal strings: money to the cent, rates (fractions between
0 and 1) and attainments to 4 decimal places, durations to 2; counts are
integers; a ratio with a zero denominator is ``null``.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm import policy
from crm.limits import validate_day
from crm.models import Team, User
from crm.serializers import ModelSerializer
from leads.models import Channel
from metrics import kpis
from metrics.kpis.registry import UNITS, Better
from metrics.models import KpiTarget
from metrics.report import KpiReport
from metrics.segments import Period, Segment

MAX_SERIES_MONTHS = 36


def decimal_string(value: Decimal | int | None, unit: str) -> str | int | None:
    """Format one figure in a unit of the KPI registry (``UNITS``)."""
    return UNITS[unit].format(value)


def money_list(values, unit: str = "money") -> list[dict]:
    return [
        {"currency": currency, "value": decimal_string(value, unit)}
        for currency, value in values
    ]


# --- input ---------------------------------------------------------------------


class _KpiScopeField(serializers.PrimaryKeyRelatedField):
    """A team or person whose KPIs the caller may read (``crm.policy``).

    Any other id, existing or not, gets the same "Invalid pk" answer.
    """

    def __init__(self, *, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.scope(getattr(request, "user", None))


class KpiQuerySerializer(serializers.Serializer):
    """The period (default: the current quarter) and the filters of a KPI query."""

    start = serializers.DateField(
        required=False, help_text=_("First day, included."), validators=[validate_day]
    )
    end = serializers.DateField(
        required=False, help_text=_("Last day, included."), validators=[validate_day]
    )
    team = _KpiScopeField(
        queryset=Team.objects.all(),
        scope=policy.kpi_teams,
        required=False,
        allow_null=True,
    )
    owner = _KpiScopeField(
        queryset=User.objects.all(),
        scope=lambda user: policy.kpi_owners(user).select_related("team"),
        required=False,
        allow_null=True,
        help_text=_("A rep's id."),
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, allow_blank=True
    )

    def validate(self, attrs):
        quarter = Period.current_quarter()
        start = attrs.get("start") or quarter.start
        end = attrs.get("end") or quarter.end
        if start > end:
            raise serializers.ValidationError(
                {"end": _("The end is before the start.")}
            )
        attrs["period"] = Period(start, end)
        return attrs


class ChurnQuerySerializer(KpiQuerySerializer):
    interval = serializers.ChoiceField(choices=["month"], default="month")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if len(attrs["period"].months()) > MAX_SERIES_MONTHS:
            raise serializers.ValidationError(
                {
                    "end": _("A series covers at most %(months)d months.")
                    % {"months": MAX_SERIES_MONTHS}
                }
            )
        return attrs


# --- output (declared for the schema; built by the functions below) -------------


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class FiltersSerializer(serializers.Serializer):
    team = serializers.IntegerField(allow_null=True)
    owner = serializers.IntegerField(allow_null=True)
    channel = serializers.CharField(allow_null=True)


class CurrencyValueSerializer(serializers.Serializer):
    currency = serializers.CharField()
    value = serializers.CharField(allow_null=True, help_text=_("Decimal string."))


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": True,
        "description": "An integer for counts, else a decimal string.",
    }
)
class FigureField(serializers.Field):
    pass


class KpiItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.ChoiceField(choices=list(UNITS))
    better = serializers.ChoiceField(
        choices=[b.value for b in Better],
        help_text=_(
            "Which way the KPI should go (lower: a figure at or below "
            "the target is within it, and there is no attainment)."
        ),
    )
    value = FigureField(required=False, help_text=_("Absent for money KPIs."))
    values = CurrencyValueSerializer(
        many=True,
        required=False,
        help_text=_(
            "Money KPIs: one figure per currency (and the gross MRR churn "
            "rate in each currency)."
        ),
    )
    target = serializers.CharField(allow_null=True)
    target_currency = serializers.CharField(required=False, allow_null=True)
    target_from_months = serializers.BooleanField(
        required=False,
        help_text=_("True when a quarter's target is the sum of its monthly targets."),
    )
    attainment = serializers.CharField(
        allow_null=True,
        help_text=_("actual / target, where more is better; null where lower is."),
    )
    within_target = serializers.BooleanField(
        allow_null=True,
        help_text=_(
            "Whether the figure meets the target: at or above it, or at "
            "or below it where lower is better; null without a target."
        ),
    )


class KpiReportSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = FiltersSerializer()
    kpis = KpiItemSerializer(many=True)


class FunnelStageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()
    reached = serializers.IntegerField()
    conversion_from_previous = serializers.CharField(allow_null=True)


class OpenStageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    currency = serializers.CharField()
    deals = serializers.IntegerField()
    amount = serializers.CharField()
    weighted_amount = serializers.CharField()


class FunnelSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = FiltersSerializer()
    created = serializers.IntegerField()
    won = serializers.IntegerField()
    closing_to_won_rate = serializers.CharField(allow_null=True)
    stages = FunnelStageSerializer(many=True)
    open_on_end = OpenStageSerializer(many=True)


class ChurnPointSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    customers_start = serializers.IntegerField()
    customers_end = serializers.IntegerField()
    churned_customers = serializers.IntegerField()
    customer_churn_rate = serializers.CharField(allow_null=True)
    retention_rate = serializers.CharField(allow_null=True)
    mrr_start = CurrencyValueSerializer(many=True)
    mrr_end = CurrencyValueSerializer(many=True)
    new_mrr = CurrencyValueSerializer(many=True)
    expansion_mrr = CurrencyValueSerializer(many=True)
    contraction_mrr = CurrencyValueSerializer(many=True)
    churned_mrr = CurrencyValueSerializer(many=True)
    reactivation_mrr = CurrencyValueSerializer(many=True)
    net_new_mrr = CurrencyValueSerializer(many=True)
    gross_mrr_churn_rate = CurrencyValueSerializer(many=True)
    net_mrr_churn_rate = CurrencyValueSerializer(many=True)
    gross_revenue_retention = CurrencyValueSerializer(many=True)
    net_revenue_retention = CurrencyValueSerializer(many=True)


class ChurnSeriesSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = FiltersSerializer()
    interval = serializers.CharField()
    points = ChurnPointSerializer(many=True)


def _head(period: Period, segment: Segment) -> dict:
    return {
        "period": {"start": period.start, "end": period.end},
        "filters": {
            "team": segment.team.pk if segment.team else None,
            "owner": segment.owner.pk if segment.owner else None,
            "channel": segment.channel,
        },
    }


def report_data(report: KpiReport) -> dict:
    items = []
    for item in report.items:
        row: dict = {
            "key": item.key,
            "label": item.label,
            "unit": item.unit,
            "better": item.better,
        }
        if item.unit == "money":
            row["values"] = money_list(item.values or ())
            row["target"] = decimal_string(item.target, "money")
            row["target_currency"] = item.target_currency or None
        else:
            row["value"] = decimal_string(item.value, item.unit)
            if item.values is not None:
                row["values"] = money_list(item.values, item.unit)
            row["target"] = decimal_string(item.target, item.unit)
        if item.target_from_months:
            row["target_from_months"] = True
        row["attainment"] = decimal_string(item.attainment, "rate")
        row["within_target"] = item.within_target
        items.append(row)
    return {**_head(report.period, report.segment), "kpis": items}


def funnel_data(funnel: kpis.Funnel, period: Period, segment: Segment) -> dict:
    return {
        **_head(period, segment),
        "created": funnel.created,
        "won": funnel.won,
        "closing_to_won_rate": decimal_string(funnel.closing_to_won_rate, "rate"),
        "stages": [
            {
                "stage": stage.stage,
                "label": stage.label,
                "reached": stage.reached,
                "conversion_from_previous": decimal_string(
                    stage.conversion_from_previous, "rate"
                ),
            }
            for stage in funnel.stages
        ],
        "open_on_end": [
            {
                "stage": row.stage,
                "currency": row.currency,
                "deals": row.deals,
                "amount": decimal_string(row.amount, "money"),
                "weighted_amount": decimal_string(row.weighted_amount, "money"),
            }
            for row in funnel.open_on_end
        ],
    }


def churn_data(
    points: tuple[kpis.ChurnKpis, ...], period: Period, segment: Segment
) -> dict:
    return {
        **_head(period, segment),
        "interval": "month",
        "points": [
            {
                "start": point.period.start,
                "end": point.period.end,
                "customers_start": point.customers_start,
                "customers_end": point.customers_end,
                "churned_customers": point.churned_customers,
                "customer_churn_rate": decimal_string(
                    point.customer_churn_rate, "rate"
                ),
                "retention_rate": decimal_string(point.retention_rate, "rate"),
                "mrr_start": money_list(point.mrr_start),
                "mrr_end": money_list(point.mrr_end),
                **{
                    name: money_list(getattr(point, name))
                    for name in (
                        "new_mrr",
                        "expansion_mrr",
                        "contraction_mrr",
                        "churned_mrr",
                        "reactivation_mrr",
                        "net_new_mrr",
                    )
                },
                **{
                    name: money_list(getattr(point, name), "rate")
                    for name in (
                        "gross_mrr_churn_rate",
                        "net_mrr_churn_rate",
                        "gross_revenue_retention",
                        "net_revenue_retention",
                    )
                },
            }
            for point in points
        ],
    }


# --- targets -------------------------------------------------------------------


class KpiTargetSerializer(ModelSerializer):
    period_end = serializers.DateField(read_only=True)

    class Meta:
        model = KpiTarget
        fields = [
            "id",
            "kpi",
            "period_kind",
            "period_start",
            "period_end",
            "team",
            "owner",
            "value",
            "currency",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = [
            "id",
            "period_end",
            "created_at",
            "updated_at",
            "version",
        ]
        # The model's conditional unique constraints are checked in validate().
        validators: list = []

    def validate(self, attrs):
        user = self.context["request"].user
        target = KpiTarget(
            **{
                **(
                    {
                        field: getattr(self.instance, field)
                        for field in self.Meta.fields
                        if field not in self.Meta.read_only_fields
                    }
                    if self.instance
                    else {}
                ),
                **attrs,
            }
        )
        if self.instance is not None:
            target.pk = self.instance.pk
            # An existing row: its own unique key is not a duplicate of itself.
            target._state.adding = False
        try:
            target.clean()
            target.validate_constraints()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                serializers.as_serializer_error(exc)
            ) from exc
        if not policy.may_set_target(user, team=target.team, owner=target.owner):
            raise serializers.ValidationError(
                {
                    "team": _(
                        "You can set targets for the teams you manage "
                        "and their reps only."
                    )
                }
            )
        if "currency" in attrs:
            attrs["currency"] = target.currency  # normalised by clean()
        return attrs
