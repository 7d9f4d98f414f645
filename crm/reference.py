"""Reference data and the normal form of the values the CRM shares with the world.

Currencies are ISO 4217 codes (pycountry's table), countries ISO 3166-1 alpha-2
codes (django-countries' table). Each function returns the normal form or raises
Django's ``ValidationError``; models call them from ``clean`` and services before
they write, so the admin, the API, the pages and the import agree.
"""

from __future__ import annotations

from functools import cache

import pycountry
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_countries.data import COUNTRIES

# ISO 4217 codes that are not money: "testing" and "no currency".
NOT_MONEY = frozenset({"XTS", "XXX"})


@cache
def currency_codes() -> frozenset[str]:
    """Return the ISO 4217 codes of real currencies."""
    return frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY


def normalize_currency(value: str) -> str:
    """Return an ISO 4217 code in upper case ("eur" -> "EUR"), or refuse it."""
    code = (value or "").strip().upper()
    if code not in currency_codes():
        raise ValidationError(
            _('"%(value)s" is not an ISO 4217 currency code (e.g. EUR, USD).')
            % {"value": value},
            code="invalid_currency",
        )
    return code


def normalize_country(value: str) -> str:
    """Return an ISO 3166 alpha-2 code in upper case, "" for none, or refuse it."""
    code = (value or "").strip().upper()
    if code and code not in COUNTRIES:
        raise ValidationError(
            _('"%(value)s" is not an ISO 3166 country code (e.g. FR, DE, US).')
            % {"value": value},
            code="invalid_country",
        )
    return code


def normalize_domain(value: str) -> str:
    """Return a website's bare domain: "https://www.Acme.com/" -> "acme.com"."""
    domain = (value or "").strip().lower()
    domain = domain.removeprefix("https://").removeprefix("http://")
    domain = domain.split("/", 1)[0].rstrip(".")
    return domain.removeprefix("www.")


def normalize_email(value: str) -> str:
    """Return an e-mail address without spaces and with its domain in lower case.

    The local part keeps its case (RFC 5321 leaves it to the mailbox's server);
    the CRM compares addresses case-insensitively anyway.
    """
    email = (value or "").strip()
    local, at, domain = email.rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else email
