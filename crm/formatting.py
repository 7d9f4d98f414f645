"""Numbers, money, rates and durations written for the reader's language.

Pages, the dashboard and its charts format through these functions so that a
French reader sees ``1 234,56 €`` and an English one ``€1,234.56``. Babel holds
the CLDR rules (grouping, decimal sign, currency position, plural forms), which
Django's own localisation lacks for currencies and durations. CSV exports and the
API never come here: they keep machine formats whatever the language.
"""

from __future__ import annotations

from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit
from django.utils import translation

Number = int | float | Decimal


def reader_locale() -> Locale:
    """Return the Babel locale of the active Django language."""
    language = translation.get_language() or "en"
    return Locale.parse(translation.to_locale(language))


def money(amount: Number, currency: str) -> str:
    """Write an amount in its ISO currency, two decimals: ``€1,234.56``."""
    return format_currency(amount, currency, locale=reader_locale())


def number(value: Number, decimals: int = 0) -> str:
    """Write a count or a measure with the reader's grouping and decimal sign."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=reader_locale())


def rate(fraction: Number, decimals: int = 1) -> str:
    """Write a fraction (0.25) as a percentage (``25.0%``, ``25,0 %``)."""
    locale = reader_locale()
    # The locale's own pattern places the sign ("25 %" in French), with decimals.
    pattern = locale.percent_formats[None].pattern
    if decimals:
        pattern = pattern.replace("0", "0." + "0" * decimals, 1)
    return format_percent(fraction, format=pattern, locale=locale)


def duration(minutes: Number) -> str:
    """Write a duration in minutes, hours or days, whichever reads naturally.

    "43544.56 min" helps no one: a response time of a month reads "30.2 days",
    one of ninety minutes "1.5 hours" (one decimal, dropped when it is zero).
    """
    value = float(minutes)
    if abs(value) < 120:
        unit = "duration-minute"
    elif abs(value) < 48 * 60:
        unit, value = "duration-hour", value / 60
    else:
        unit, value = "duration-day", value / (24 * 60)
    return format_unit(value, unit, format="#,##0.#", locale=reader_locale())
