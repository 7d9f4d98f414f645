"""Server-rendered SVG charts of the KPI dashboard, drawn by pygal.

Each chart is its own SVG document, served by its own cacheable request
(``metrics.dashboard.chart_response``) and shown with an ``<img>``: the page
carries only the figures. pygal renders in Python (no JavaScript, nothing from
a CDN: ``js=[]``). Each function takes KPI dataclasses already computed, so
drawing adds no query.

Legibility: a chart is drawn at the size it is shown (a wide and a narrow
variant, picked by the page's ``<picture>``), so its 15-unit text stays at
least 12 px on screen; labels are never truncated; value axes start at zero.
Its colours follow ``prefers-color-scheme`` (a light and a dark palette in the
SVG's own style sheet); ``<title>`` and ``<desc>`` carry its figures as text.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

import pygal
from babel.dates import format_date
from babel.numbers import format_compact_decimal, format_decimal
from django.utils.translation import gettext as _
from pygal.style import Style

from crm import formatting
from metrics import kpis
from pipeline.models import STAGE_ORDER, Stage


@dataclass(frozen=True)
class Size:
    name: str
    width: int
    height: int
    # Month labels shown: every one, or every third (the others are ticks).
    month_label_every: int


WIDE = Size("wide", 720, 380, 2)
NARROW = Size("narrow", 360, 440, 3)
SIZES = {size.name: size for size in (WIDE, NARROW)}

# Mid-tone colours that read on a white and on a near-black background.
COLOURS = ("#2f7dd1", "#e08a1e", "#2aa876", "#d9534f", "#8e6bd1", "#1fa3a3")

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#333333",
    foreground_strong="#222222",
    foreground_subtle="#d0d0d0",
    colors=COLOURS,
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=15,
    title_font_size=17,
    value_font_size=15,
    no_data_font_size=20,
)

# The dark palette: the SVG follows the reader's colour scheme (an SVG shown
# by <img> evaluates media queries against the page's preference).
DARK = """
@media (prefers-color-scheme: dark) {
  text, .title, .legends .legend text, .axis text { fill: #e8e8e8 !important; }
  .axis .line, .axis .guides .line, .axis .guides .major, .axis .major .line {
    stroke: #8a8a8a !important;
  }
  .axis .guide.line, .guides .guide.line { stroke: #4a4a4a !important; }
}
"""


def _config(size: Size, **overrides) -> dict:
    return {
        "js": [],  # no CDN script; the SVG is complete on its own
        "css": ["file://style.css", "file://graph.css", "inline:" + DARK],
        "no_prefix": True,  # one chart per document: plain selectors
        "disable_xml_declaration": True,
        "style": STYLE,
        "width": size.width,
        "height": size.height,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 1 if size is NARROW else 3,
        "truncate_label": -1,
        "truncate_legend": -1,
        "print_values": False,
        "include_x_axis": True,  # value axes from zero: no 66.67…67.67 scale
        # Few value ticks, written short ("74.4K"): they never run together.
        "max_scale": 6 if size is WIDE else 4,
        "value_formatter": _axis_number,
        "margin": 12,
        "margin_right": 28,  # the last value tick ("120K") stays inside
        "margin_bottom": 28,  # room for the legend's 15-unit text
        **overrides,
    }


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _axis_number(value: float) -> str:
    """Write an axis tick short: "74.4K", "12.5", "3"."""
    locale = formatting.reader_locale()
    if abs(value) >= 1000:
        return format_compact_decimal(
            value, format_type="short", fraction_digits=1, locale=locale
        )
    return format_decimal(round(value, 1), format="#,##0.#", locale=locale)


def _render(chart, description: str) -> str:
    """Return the SVG, with ``description`` (its figures) as its ``<desc>``."""
    # pygal's <script> only configures the tooltip script we do not load.
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    # pygal's tooltip placeholder hides with a style attribute; a presentation
    # attribute is equivalent and needs no inline-style allowance.
    svg = svg.replace('style="opacity: 0"', 'opacity="0"')
    head_end = svg.index(">", svg.index("<svg")) + 1
    return (
        f"{svg[:head_end]}<desc>{escape(description)}</desc>{svg[head_end:]}"
    ).replace("<svg ", '<svg role="img" ', 1)


def _month_label(day: datetime.date) -> str:
    """Return "Jan 26" in the reader's language."""
    return format_date(day, "MMM yy", locale=formatting.reader_locale())


def _month_labels(months: list[datetime.date], size: Size) -> dict:
    labels = [_month_label(m) for m in months]
    if size.month_label_every == 1:
        return {"x_labels": labels}
    return {
        "x_labels": labels,
        "x_labels_major": labels[:: size.month_label_every],
        "show_minor_x_labels": False,
    }


def _listing(pairs) -> str:
    return "; ".join(f"{label}: {value}" for label, value in pairs)


def funnel_chart(funnel: kpis.Funnel, size: Size = WIDE) -> str:
    """Deals of the period's cohort per stage reached (widest first)."""
    if funnel.closing_to_won_rate is None:
        closing = _("no deal reached closing")
    else:
        closing = formatting.rate(funnel.closing_to_won_rate, 0)
    title = _("Deals reaching each stage (closing to won: %(rate)s)") % {
        "rate": closing
    }
    chart = pygal.HorizontalBar(title=title, show_legend=False, **_config(size))
    stages = list(reversed(funnel.stages))  # HorizontalBar draws bottom-up
    chart.x_labels = [str(stage.label) for stage in stages]
    chart.add(_("Deals"), [stage.reached for stage in stages])
    description = _listing(
        (stage.label, formatting.number(stage.reached)) for stage in funnel.stages
    )
    return _render(chart, f"{title}. {description}")


def churn_chart(
    points: tuple[kpis.ChurnKpis, ...], currency: str, size: Size = WIDE
) -> str:
    """Monthly customer churn rate (%) and MRR on each month's last day."""
    title = _("Customer churn and MRR (%(currency)s) per month") % {
        "currency": currency
    }
    mrr = [float(dict(p.mrr_end).get(currency, Decimal(0))) for p in points]
    churn_rates = [p.customer_churn_rate for p in points]
    chart = pygal.Line(
        title=title,
        secondary_range=(0, max([*mrr, 1.0]) * 1.1),
        **_config(size, **_month_labels([p.period.start for p in points], size)),
    )
    chart.add(
        _("Customer churn %"),
        [None if rate is None else float(rate * 100) for rate in churn_rates],
    )
    chart.add(_("MRR (%(currency)s)") % {"currency": currency}, mrr, secondary=True)
    description = _listing(
        (
            _month_label(p.period.start),
            f"{'—' if rate is None else formatting.rate(rate)}, "
            + formatting.money(dict(p.mrr_end).get(currency, Decimal(0)), currency),
        )
        for p, rate in zip(points, churn_rates, strict=True)
    )
    return _render(chart, f"{title}. {description}")


def pipeline_chart(rows: tuple[kpis.StageRow, ...], size: Size = WIDE) -> str:
    """Open pipeline on ``end`` per stage: value and weighted value per currency."""
    title = _("Open pipeline by stage")
    chart = pygal.HorizontalBar(title=title, **_config(size))
    stages = list(reversed(STAGE_ORDER))  # HorizontalBar draws bottom-up
    chart.x_labels = [str(Stage(stage).label) for stage in stages]
    parts = []
    for currency in sorted({row.currency for row in rows}):
        cells = {row.stage: row for row in rows if row.currency == currency}
        for name, field in ((_("value"), "amount"), (_("weighted"), "weighted_amount")):
            values = {
                s: getattr(cells[s], field) if s in cells else Decimal(0)
                for s in STAGE_ORDER
            }
            chart.add(f"{currency} {name}", [float(values[s]) for s in stages])
            parts.extend(
                (f"{Stage(s).label} {name}", formatting.money(v, currency))
                for s, v in values.items()
            )
    return _render(chart, f"{title}. {_listing(parts) or _('No open deal.')}")


# Reps drawn at most; the rest are summed up in the text alternative.
MAX_REPS = 10


def reps_chart(reps: tuple[kpis.RepPerformance, ...], size: Size = WIDE) -> str:
    """Revenue won per rep (the best ``MAX_REPS``) and their win rates."""
    ranked = sorted(
        reps,
        key=lambda rep: (-sum(v for _, v in rep.revenue_won), rep.name),
    )[:MAX_REPS]
    title = _("Revenue won per rep")
    if len(reps) > MAX_REPS:
        title = _("Revenue won: the best %(shown)s of %(count)s reps") % {
            "shown": MAX_REPS,
            "count": len(reps),
        }
    chart = pygal.HorizontalBar(
        title=title,
        **_config(size, height=max(size.height, 120 + 36 * len(ranked))),
    )
    shown = list(reversed(ranked))  # HorizontalBar draws bottom-up
    chart.x_labels = [rep.name for rep in shown]
    currencies = sorted({c for rep in reps for c, _ in rep.revenue_won})
    for currency in currencies:
        chart.add(
            _("Revenue %(currency)s") % {"currency": currency},
            [float(dict(rep.revenue_won).get(currency, 0)) for rep in shown],
        )
    description = _listing((rep.name, _rep_figures(rep)) for rep in ranked)
    return _render(chart, f"{title}. {description or _('No rep.')}")


def _rep_figures(rep: kpis.RepPerformance) -> str:
    won = ", ".join(formatting.money(v, c) for c, v in rep.revenue_won) or "0"
    if rep.win_rate is None:
        return won
    return f"{won} · " + _("win rate %(rate)s") % {
        "rate": formatting.rate(rep.win_rate)
    }


def leads_chart(
    rows: tuple[tuple[datetime.date, str, int], ...],
    months: list[datetime.date],
    size: Size = WIDE,
) -> str:
    """New leads per month, stacked by channel."""
    title = _("New leads per month by channel")
    chart = pygal.StackedBar(
        title=title,
        **_config(size, **_month_labels(months, size)),
    )
    counts = {(month, channel): n for month, channel, n in rows}
    labels = {"inbound": _("Inbound"), "outbound": _("Outbound")}
    for channel, label in labels.items():
        chart.add(label, [counts.get((month, channel), 0) for month in months])
    description = _listing(
        (
            _month_label(month),
            ", ".join(
                f"{labels[c]} {formatting.number(counts.get((month, c), 0))}"
                for c in labels
            ),
        )
        for month in months
    )
    return _render(chart, f"{title}. {description}")
