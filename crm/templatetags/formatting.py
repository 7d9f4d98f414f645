"""Template filters over ``crm.formatting``: ``{% load formatting %}``.

``{{ deal.amount|money:deal.currency }}``, ``{{ count|number }}``,
``{{ win_rate|rate }}``, ``{{ minutes|duration }}``. An empty value renders as
an empty string, so a KPI without data shows nothing rather than "None".
"""

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
