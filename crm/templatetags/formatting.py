"""Template filters over ``crm.formatting``: ``{% load formatting %}``.

``{{ deal.amount|money:deal.currency }}``, ``{{ count|number }}``,
``{{ win_rate|rate }}``, ``{{ minutes|duration }}``. An empty value renders as
an empty string, so a KPI without data shows nothing rather than "None".
"""

from decimal import Decimal

from django import template

from crm import formatting

register = template.Library()


@register.filter
def money(amount, currency):
    return "" if amount is None else formatting.money(amount, currency)


@register.filter
def number(value, decimals=0):
    return "" if value is None else formatting.number(value, int(decimals))


@register.filter
def rate(fraction, decimals=1):
    return "" if fraction is None else formatting.rate(fraction, int(decimals))


@register.filter
def duration(minutes):
    return "" if minutes is None else formatting.duration(minutes)


@register.filter
def percent(whole):
    """Write a whole percentage (a deal's probability, 40) as ``40%`` / ``40 %``."""
    return "" if whole is None else formatting.rate(Decimal(whole) / 100, 0)
