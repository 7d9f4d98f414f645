"""Numbers, money, rates and durations written for the reader's language.

Pages, the dashboard and its charts format through these functions so that a
French reader sees ``1 234,56 €`` and an English one ``€1,234.56``. Babel holds
the CLDR rules (grouping, decimal sign, currency position, plural forms), which
Django's own localisation lacks for currencies and durations. CSV exports and the
API never come here: they keep machine formats whatever the language.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from babel import Locale
from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    format_percent,
    get_group_symbol,
    parse_decimal,
)
from babel.units import format_unit
from django.utils import formats, timezone, translation

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


def number_pattern(value: Number, pattern: str) -> str:
    """Write a number by a CLDR pattern (``#,##0.00##``) in the reader's symbols."""
    return format_decimal(value, format=pattern, locale=reader_locale())


def parse_number(text: str) -> Decimal:
    """Read a number typed in the reader's language: ``18 000,00``, ``18,000.00``.

    Strict, so that a grouping in the wrong place is refused rather than
    guessed (``1,5`` in English is not fifteen). Any space (a plain one, as
    typed, or the no-break ones Babel writes) may group thousands in French.
    Raise ``ValueError`` when the text is not such a number.
    """
    locale = reader_locale()
    group = get_group_symbol(locale)
    text = text.strip()
    if group.isspace():
        text = re.sub(r"\s", group, text)
    try:
        return parse_decimal(text, locale=locale, strict=True)
    except NumberFormatError as exc:
        raise ValueError(str(exc)) from exc


def day(value: datetime.date | None) -> str:
    """Write a date in the reader's short format (``25/11/2025``, ``11/25/2025``)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localdate(value)
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def moment(value: datetime.datetime | None) -> str:
    """Write a date and time, in the current time zone, in the reader's format."""
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def month(value: datetime.date) -> str:
    """Write a month (``novembre 2025``, ``November 2025``)."""
    return formats.date_format(value, "YEAR_MONTH_FORMAT")


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
