"""Figures read naturally in English and in French (CLDR rules through Babel)."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from crm import formatting

NNBSP = "\u202f"  # French groups thousands with a narrow no-break space
NBSP = "\xa0"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "€1,234.56"), ("fr", f"1{NNBSP}234,56{NBSP}€")],
)
def test_money_follows_the_readers_language(language, expected):
    with translation.override(language):
        assert formatting.money(Decimal("1234.56"), "EUR") == expected


@pytest.mark.parametrize(
    ("language", "count", "rate"),
    [("en", "43,544", "66.7%"), ("fr", f"43{NNBSP}544", f"66,7{NBSP}%")],
)
def test_counts_and_rates_are_grouped_and_signed_per_language(language, count, rate):
    with translation.override(language):
        assert formatting.number(43544) == count
        assert formatting.rate(Decimal("0.6667")) == rate


def test_durations_use_the_largest_natural_unit():
    # 43,544.56 minutes / 1,440 = 30.2 days; 90 minutes = 1.5 hours
    with translation.override("en"):
        assert formatting.duration(43544.56) == "30.2 days"
        assert formatting.duration(90) == "90 minutes"
        assert formatting.duration(150) == "2.5 hours"
        assert formatting.duration(12) == "12 minutes"
    with translation.override("fr"):
        assert formatting.duration(150) == f"2,5{NBSP}heures"
        assert formatting.duration(2880) == f"2{NBSP}jours"


def test_template_filters_leave_missing_figures_empty():
    template = Template(
        "{% load formatting %}[{{ amount|money:'EUR' }}|{{ none|rate }}|"
        "{{ n|number:2 }}]"
    )
    with translation.override("en"):
        html = template.render(Context({"amount": Decimal(5), "none": None, "n": 2}))
    assert html == "[€5.00||2.00]"
