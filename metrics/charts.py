"""Server-rendered SVG charts of the KPI dashboard, drawn by pygal.

pygal renders SVG in Python (no JavaScript build, nothing fetched from a CDN:
``js=[]`` drops its optional tooltip script from kozea.github.io). Each function
takes KPI dataclasses already computed, so charts add no query.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pygal
from babel.dates import format_date
from django.utils.translation import gettext as _
from pygal.style import DefaultStyle

from crm.formatting import reader_locale
from leads.models import Channel
from metrics import kpis
from pipeline.models import STAGE_ORDER, Stage

# Titles and legends use gettext, not gettext_lazy: pygal serialises them as
# JSON, and a chart is drawn during a request, in the reader's language.
CONFIG = {
    "js": [],  # no CDN script; the SVG is complete on its own
    "disable_xml_declaration": True,
    "style": DefaultStyle,
    "height": 320,
    "legend_at_bottom": True,
    "print_values": False,
    "x_label_rotation": 0,
}


def _svg(chart) -> str:
    return chart.render(is_unicode=True)


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_STYLE_ATTRIBUTE = re.compile(r'style="opacity: ?0"')


def for_page(svg: str, *, nonce: str) -> str:
    """Return a chart ready to inline in a page under the Content-Security-Policy.

    pygal's SVG carries a ``<style>`` (its look), a ``<script>`` that only
    configures the tooltip script we do not load, and one ``style`` attribute on
    the hidden tooltip. The style gets the request's CSP nonce, the script goes,
    and the attribute becomes the equivalent SVG presentation attribute, which
    no policy restricts.
    """
    svg = _SCRIPT.sub("", svg)
    svg = _STYLE_ATTRIBUTE.sub('opacity="0"', svg)
    return svg.replace("<style", f'<style nonce="{nonce}"')


def _month_label(day: datetime.date) -> str:
    """Write "Jan 2026" / "janv. 2026" in the reader's language."""
    return format_date(day, "MMM y", locale=reader_locale())


def funnel_chart(funnel: kpis.Funnel) -> str:
    """Deals of the period's cohort per stage reached (widest first)."""
    chart = pygal.HorizontalBar(title=_("Funnel: deals reaching each stage"), **CONFIG)
    stages = list(reversed(funnel.stages))  # HorizontalBar draws bottom-up
    chart.x_labels = [str(stage.label) for stage in stages]
    chart.add(_("Deals"), [stage.reached for stage in stages])
    return _svg(chart)


def churn_chart(points: tuple[kpis.ChurnKpis, ...], currency: str) -> str:
    """Monthly customer churn rate (%) and MRR on each month's last day."""
    chart = pygal.Line(
        title=_("Customer churn (%%) and MRR (%(currency)s) per month")
        % {"currency": currency},
        **CONFIG,
    )
    chart.x_labels = [_month_label(p.period.start) for p in points]
    chart.add(
        _("Customer churn %"),
        [
            None
            if p.customer_churn_rate is None
            else float(p.customer_churn_rate * 100)
            for p in points
        ],
    )
    chart.add(
        _("MRR %(currency)s") % {"currency": currency},
        [float(dict(p.mrr_end).get(currency, Decimal(0))) for p in points],
        secondary=True,
    )
    return _svg(chart)


def pipeline_chart(rows: tuple[kpis.StageRow, ...]) -> str:
    """Open pipeline on ``end`` per stage: value and weighted value per currency."""
    chart = pygal.Bar(title=_("Pipeline by stage (open on end)"), **CONFIG)
    chart.x_labels = [str(Stage(stage).label) for stage in STAGE_ORDER]
    for currency in sorted({row.currency for row in rows}):
        cells = {row.stage: row for row in rows if row.currency == currency}
        for name, field in (
            (_("%(currency)s value"), "amount"),
            (_("%(currency)s weighted"), "weighted_amount"),
        ):
            chart.add(
                name % {"currency": currency},
                [
                    float(getattr(cells[s], field)) if s in cells else 0
                    for s in STAGE_ORDER
                ],
            )
    return _svg(chart)


def reps_chart(reps: tuple[kpis.RepPerformance, ...]) -> str:
    """Revenue won per rep (bars, per currency) and win rate % (secondary axis)."""
    chart = pygal.Bar(title=_("Revenue won and win rate per rep"), **CONFIG)
    chart.x_labels = [rep.name for rep in reps]
    currencies = sorted({c for rep in reps for c, _amount in rep.revenue_won})
    for currency in currencies:
        chart.add(
            _("Revenue %(currency)s") % {"currency": currency},
            [float(dict(rep.revenue_won).get(currency, 0)) for rep in reps],
        )
    rates = [None if r.win_rate is None else float(r.win_rate * 100) for r in reps]
    # pygal cannot scale a secondary axis without a single value.
    if any(rate is not None for rate in rates):
        chart.add(_("Win rate %"), rates, secondary=True)
    return _svg(chart)


def leads_chart(
    rows: tuple[tuple[datetime.date, str, int], ...], months: list[datetime.date]
) -> str:
    """New leads per month, stacked by channel."""
    chart = pygal.StackedBar(title=_("New leads per month by channel"), **CONFIG)
    chart.x_labels = [_month_label(month) for month in months]
    counts = {(month, channel): n for month, channel, n in rows}
    for channel in (Channel.INBOUND, Channel.OUTBOUND):
        chart.add(
            str(channel.label), [counts.get((month, channel), 0) for month in months]
        )
    return _svg(chart)
