"""The KPI dashboard page of the admin: pickers, KPI cards, and its charts.

The page carries the figures of ``metrics.report.kpi_report`` (the same
numbers as the API) and one ``<img>`` per chart; each chart is its own request
(``chart_response``), an SVG with an ``ETag``, answered 304 while nothing it
draws has changed. Everything computed is cached under the data version
(``metrics.data_version``), which moves in the same transaction as any change
to what a KPI reads: a figure is recomputed only when it may have changed and
is never served stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.forms.utils import flatatt
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from crm import formatting, policy
from crm.limits import validate_day
from crm.models import Team, User
from crm.replica import replica_reads
from leads.models import Channel
from metrics import charts, kpis
from metrics.data_version import data_version
from metrics.kpis.registry import BY_KEY, DAYS, HOURS, MINUTES, MONEY, RATE, Better
from metrics.report import kpi_report
from metrics.segments import Period, Segment, add_months, segment_for

# Cached figures live until the data version moves (then their key is unused).
CACHE_SECONDS = 24 * 3600
# Bump when the charts' drawing changes: browsers then refetch them.
DRAWING = "2"

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PickerSelect(forms.Select):
    """A ``<select>`` drawn in one pass, not one template per option.

    The rep picker offers every rep in the viewer's scope: for an admin of 500
    reps, Django's per-option templates took 40 ms, most of a page whose
    figures are cached, and ``format_html`` per option still a fifth of it.
    Each value is escaped by the standard library's ``html.escape``. Same
    markup as ``forms.Select`` (no option groups).
    """

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, attrs)
        chosen = set(self.format_value(value))
        options = "".join(
            f'<option value="{escape(str(key))}"'
            f"{' selected' if str(key) in chosen else ''}>{escape(str(label))}</option>"
            for key, label in self.choices
        )
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(attrs),
            # Safe: every key and label was escaped above.
            mark_safe(options),  # noqa: S308  # nosec B308 B703
        )


class _TupleChoices(forms.models.ModelChoiceIterator):
    """A picker's choices read as tuples, in one query: no model instance per
    option (nor the server-side cursor Django's iterator opens for them)."""

    columns: tuple[str, ...] = ("pk", "name")

    def label(self, row: tuple) -> str:
        return row[1]

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for row in self.queryset.values_list(*self.columns):
            yield (row[0], self.label(row))


class NameChoices(_TupleChoices):
    """The people's ids and names, as ``User.__str__`` writes them."""

    columns = ("pk", "first_name", "last_name", "username")

    def label(self, row: tuple) -> str:
        _, first_name, last_name, username = row
        return f"{first_name} {last_name}".strip() or username


class DashboardForm(forms.Form):
    """Period and filters; the choices offered follow the viewer's scope."""

    # A date input's value is ISO in every language (the browser shows it local).
    start = forms.DateField(
        label=_("Start"), required=False, widget=_DATE, validators=[validate_day]
    )
    end = forms.DateField(
        label=_("End"), required=False, widget=_DATE, validators=[validate_day]
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.none(),
        required=False,
        widget=PickerSelect,
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("Rep"),
        widget=PickerSelect,
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("All channels")), *Channel.choices],
        required=False,
        widget=PickerSelect,
    )

    def __init__(self, *args, viewer: User, **kwargs):
        super().__init__(*args, **kwargs)
        team = self.fields["team"]
        team.iterator = _TupleChoices  # a team is shown by its name
        team.queryset = policy.kpi_teams(viewer).order_by("name")
        owner = self.fields["owner"]
        owner.iterator = NameChoices  # before the queryset, which hands it on
        owner.queryset = (
            policy.kpi_owner_choices(viewer).select_related("team").order_by("username")
        )
        # The inputs show the period on screen, the default quarter included.
        quarter = Period.current_quarter()
        self.fields["start"].initial = quarter.start
        self.fields["end"].initial = quarter.end

    def clean(self):
        data = super().clean()
        quarter = Period.current_quarter()
        start = data.get("start") or quarter.start
        end = data.get("end") or quarter.end
        if start > end:
            self.add_error("end", _("The end is before the start."))
        data["period"] = Period(start, end)
        return data


@dataclass(frozen=True)
class Query:
    """A valid dashboard query: what to compute, for whom, and its cache key."""

    period: Period
    segment: Segment
    params: dict[str, str]

    def key(self, *parts: str) -> str:
        viewer = self.segment.viewer.pk if self.segment.viewer else ""
        text = "|".join([*parts, *self.params.values(), str(viewer)])
        return "dash:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def parse_query(request) -> tuple[DashboardForm, Query | None]:
    """Return the form and, when valid, the query (raises PermissionDenied)."""
    data = {k: v for k, v in request.GET.items() if k in DashboardForm.base_fields}
    form = DashboardForm(data or None, viewer=request.user)
    if data and not form.is_valid():
        return form, None
    cleaned = form.cleaned_data if data else {}
    period = cleaned.get("period") or Period.current_quarter()
    team, owner = cleaned.get("team"), cleaned.get("owner")
    channel = cleaned.get("channel") or ""
    segment = segment_for(viewer=request.user, team=team, owner=owner, channel=channel)
    params = {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "team": str(team.pk) if team else "",
        "owner": str(owner.pk) if owner else "",
        "channel": channel,
    }
    return form, Query(period, segment, params)


def _cached(key: str, compute: Callable[[], Any]) -> Any:
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def dashboard_context(request) -> dict:
    """Return the template context of the dashboard (raises PermissionDenied).

    Queries: the form's choices (rendered), the data version (1), and on a
    cache miss the report's (``kpi_report``).
    """
    form, query = parse_query(request)
    if query is None:
        return {"form": form, "period": None}
    # The version and the figures come from the same database (the replica
    # when one is set): figures are never cached under a version they predate.
    with replica_reads():
        version = data_version()
        # The language too: the cards are written for the reader.
        figures = _cached(
            query.key(version, "figures", translation.get_language() or ""),
            lambda: _figures(query),
        )
    return {
        "form": form,
        **figures,
        "charts": [
            {
                "name": name,
                "alt": chart.alt,
                "wide": _chart_url(name, query, charts.WIDE),
                "narrow": _chart_url(name, query, charts.NARROW),
                "width": charts.WIDE.width,
                "height": charts.WIDE.height,
                "narrow_width": charts.NARROW.width,
                "narrow_height": charts.NARROW.height,
            }
            for name, chart in CHARTS.items()
        ],
    }


def _figures(query: Query) -> dict:
    """Return what the page shows of the report, as plain values.

    Only that is cached: a lazy translation costs about half a millisecond to
    unpickle (each builds its proxy class again), and the whole report held
    dozens of them.
    """
    report = kpi_report(period=query.period, segment=query.segment)
    return {"period": report.period, "cards": [_card(item) for item in report.items]}


def _chart_url(name: str, query: Query, size: charts.Size) -> str:
    params = {k: v for k, v in query.params.items() if v}
    return (
        reverse("admin:metrics_dashboard_chart", args=[name])
        + "?"
        + urlencode({**params, "size": size.name})
    )


# --- the KPI cards --------------------------------------------------------------


def kpi_figure(kpi, value, currency: str = "") -> str:
    """Write one figure of a KPI in the reader's language ("" for none).

    Money with its currency, rates as percentages, durations in the unit that
    reads naturally, counts as whole numbers: the cards and the targets' admin.
    """
    if value is None:
        return ""
    if kpi.unit is MONEY:
        return formatting.money(value, currency) if currency else ""
    if kpi.unit is RATE:
        return formatting.rate(value)
    minutes = {MINUTES: 1, HOURS: 60, DAYS: 24 * 60}.get(kpi.unit)
    if minutes is not None:
        return formatting.duration(value * minutes)
    return formatting.number(value)


def _card(item) -> dict:
    """Format one KPI for its card."""
    kpi = BY_KEY[item.key]
    if kpi.unit is MONEY:
        shown = [
            "—" if value is None else formatting.money(value, currency)
            for currency, value in item.values or ()
        ] or ["—"]
    else:
        shown = [kpi_figure(kpi, item.value) or "—"]
    if item.target is None:
        target = ""
    else:
        target = kpi_figure(kpi, item.target, item.target_currency or "")
    return {
        "key": item.key,
        "label": str(item.label),
        "unit": item.unit,
        "values": shown,
        "target": target,
        "attainment": formatting.rate(item.attainment)
        if item.attainment is not None
        else "",
        "lower_is_better": kpi.better is Better.LOWER,
        "within_target": item.within_target,
        "target_from_months": item.target_from_months,
    }


# --- the charts -----------------------------------------------------------------


def _year(period: Period) -> Period:
    """Return the 12 months ending with the period's month (the charts over time)."""
    return Period(add_months(period.end, -11), period.end)


def _funnel(query: Query):
    return kpis.funnel(period=query.period, segment=query.segment)


def _churn(query: Query):
    return kpis.churn_series(period=_year(query.period), segment=query.segment)


def _reps(query: Query):
    return kpis.rep_performance(period=query.period, segment=query.segment)


def _leads(query: Query):
    return kpis.new_leads_by_month(period=_year(query.period), segment=query.segment)


def _months(query: Query):
    return [month.start for month in _year(query.period).months()]


@dataclass(frozen=True)
class Chart:
    alt: Any  # a lazy translation
    # The figures it draws (cached, shared by charts drawing the same ones).
    data: Callable[[Query], Any]
    draw: Callable[[Any, Query, charts.Size], str]


CHARTS: dict[str, Chart] = {
    "funnel": Chart(
        _("Funnel: deals created in the period per stage reached"),
        _funnel,
        lambda funnel, query, size: charts.funnel_chart(funnel, size),
    ),
    "pipeline": Chart(
        _("Open pipeline by stage on the period's last day, value and weighted"),
        _funnel,
        lambda funnel, query, size: charts.pipeline_chart(funnel.open_on_end, size),
    ),
    "churn": Chart(
        _("Customer churn rate and MRR over the 12 months to the period's end"),
        _churn,
        lambda points, query, size: charts.churn_chart(
            points, settings.CRM_DEFAULT_CURRENCY, size
        ),
    ),
    "reps": Chart(
        _("Revenue won per rep in the period"),
        _reps,
        lambda reps, query, size: charts.reps_chart(reps, size),
    ),
    "leads": Chart(
        _("New leads per month by channel over the 12 months to the period's end"),
        _leads,
        lambda rows, query, size: charts.leads_chart(rows, _months(query), size),
    ),
}


def chart_response(request, name: str) -> HttpResponse:
    """Return one chart as SVG, or 304 when the browser's copy is current.

    A chart is looked up like the page (same form, same ``segment_for``): a
    choice outside the viewer's scope is a 404, as a missing chart is.
    Queries: the form's choices (1 per id given), the data version (1), and
    on a cache miss the chart's figures.
    """
    chart = CHARTS.get(name)
    size = charts.SIZES.get(request.GET.get("size", "wide"))
    if chart is None or size is None:
        raise Http404
    _, query = parse_query(request)
    if query is None:
        raise Http404
    with replica_reads():  # the version and the figures: one database
        version = data_version()
        language = translation.get_language() or ""
        key = query.key(version, DRAWING, name, size.name, language)
        etag = f'"{key.removeprefix("dash:")}"'
        not_modified = get_conditional_response(request, etag=etag)
        if not_modified is not None:
            return _chart_headers(not_modified, etag)
        data = _cached(
            query.key(version, "data", chart.data.__name__),
            lambda: chart.data(query),
        )
    svg = _cached(key, lambda: chart.draw(data, query, size))
    return _chart_headers(
        HttpResponse(svg, content_type="image/svg+xml; charset=utf-8"), etag
    )


def _chart_headers(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    # Kept, but asked again every time: a 304 costs one query and is never stale.
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["Cookie", "Accept-Language"])
    # An SVG document with no script: its own <style> is its whole look.
    response._csp_replace = {"style-src": ["'unsafe-inline'"]}
    return response
