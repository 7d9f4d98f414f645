"""The KPI dashboard page of the admin: pickers, KPI cards and charts.

It renders ``metrics.report.kpi_report`` (the same numbers as the API) plus the
series of ``metrics.kpis``; every series is one grouped query.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from crm import policy
from crm.limits import validate_day
from crm.models import Team, User
from leads.models import Channel
from metrics import charts, kpis
from metrics.kpis.registry import BY_KEY, MONEY, RATE, Better
from metrics.report import kpi_report
from metrics.segments import Period, add_months, segment_for


class DashboardForm(forms.Form):
    """Period and filters; the choices offered follow the viewer's scope."""

    # A date input's value is ISO in every language (the browser shows it local).
    start = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_day],
        label=_("Start"),
    )
    end = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[validate_day],
        label=_("End"),
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, label=_("Team")
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, label=_("Rep")
    )
    channel = forms.ChoiceField(
        choices=[("", _("All channels")), *Channel.choices],
        required=False,
        label=_("Channel"),
    )

    def __init__(self, *args, viewer: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = policy.kpi_teams(viewer).order_by("name")
        self.fields["owner"].queryset = (
            policy.kpi_owner_choices(viewer).select_related("team").order_by("username")
        )

    def clean(self):
        data = super().clean()
        quarter = Period.current_quarter()
        start = data.get("start") or quarter.start
        end = data.get("end") or quarter.end
        if start > end:
            self.add_error("end", _("The end is before the start."))
        data["period"] = Period(start, end)
        return data


def dashboard_context(request) -> dict:
    """Return the template context of the dashboard (raises PermissionDenied)."""
    form = DashboardForm(request.GET or None, viewer=request.user)
    if request.GET and not form.is_valid():
        return {"form": form, "report": None}
    data = form.cleaned_data if request.GET else {}
    period = data.get("period") or Period.current_quarter()
    segment = segment_for(
        viewer=request.user,
        team=data.get("team"),
        owner=data.get("owner"),
        channel=data.get("channel"),
    )
    report = kpi_report(period=period, segment=segment)
    funnel = kpis.funnel(period=period, segment=segment)
    # The charts over time cover the 12 months ending with the period's month.
    year = Period(add_months(period.end, -11), period.end)
    months = [month.start for month in year.months()]
    churn_points = kpis.churn_series(period=year, segment=segment)
    reps = kpis.rep_performance(period=period, segment=segment)
    leads = kpis.new_leads_by_month(period=year, segment=segment)
    currency = settings.CRM_DEFAULT_CURRENCY
    return {
        "form": form,
        "report": report,
        "cards": [_card(item) for item in report.items],
        "funnel": funnel,
        "charts": {
            name: charts.for_page(svg, nonce=request.csp_nonce)
            for name, svg in {
                "funnel": charts.funnel_chart(funnel),
                "churn": charts.churn_chart(churn_points, currency),
                "pipeline": charts.pipeline_chart(funnel.open_on_end),
                "reps": charts.reps_chart(reps),
                "leads": charts.leads_chart(leads, months),
            }.items()
        },
    }


def _card(item) -> dict:
    """Format one KPI for its card, as the API formats it."""
    kpi = BY_KEY[item.key]
    if kpi.unit is MONEY:
        shown = [
            f"{value if value is not None else '—'} {currency}"
            for currency, value in ((c, MONEY.format(v)) for c, v in item.values or ())
        ] or ["—"]
    else:
        value = kpi.unit.format(item.value)
        if value is not None and kpi.unit is RATE:
            value = percent(str(value))
        shown = ["—" if value is None else f"{value} {kpi.unit.suffix}".strip()]
    target = kpi.unit.format(item.target)
    return {
        "key": item.key,
        "label": item.label,
        "unit": item.unit,
        "values": shown,
        "target": f"{target} {item.target_currency}".strip()
        if target is not None
        else "",
        "attainment": (
            f"{percent(str(RATE.format(item.attainment)))} %"
            if item.attainment is not None
            else ""
        ),
        "lower_is_better": kpi.better is Better.LOWER,
        "within_target": item.within_target,
        "target_from_months": item.target_from_months,
    }


def percent(value: str) -> str:
    """Return a rate's decimal string as a percentage with one decimal."""
    return str((Decimal(value) * 100).quantize(Decimal("0.1")))
