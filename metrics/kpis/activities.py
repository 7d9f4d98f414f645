"""Activities: cold calls, their connect rate and the prospects they won over."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import CharField, Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from crm.models import EVERYONE
from leads.models import Channel
from metrics.kpis.numbers import ratio
from metrics.segments import Period, Segment
from pipeline.models import (
    CONNECTED_OUTCOMES,
    Activity,
    ColdCallDaily,
    Outcome,
    WonOverDaily,
)

# The row of the distinct leads won over, next to the rollup's outcomes.
WON_OVER = "+won_over"


@dataclass(frozen=True)
class ColdCallKpis:
    cold_calls: int
    connected: int
    connect_rate: Decimal | None
    became_leads: int
    # Cold calls that booked a meeting, per connected call and per dial.
    meetings_booked: int = 0
    meetings_per_connect: Decimal | None = None
    meetings_per_dial: Decimal | None = None


def cold_call_kpis(*, period: Period, segment: Segment) -> ColdCallKpis:
    """Return cold calls, their connect and meeting rates, prospects won over (1 query).

    The team and rep filters apply to the caller. A cold call is outbound by
    definition, so the inbound channel has none.
    """
    if segment.channel == Channel.INBOUND:
        return ColdCallKpis(
            cold_calls=0, connected=0, connect_rate=None, became_leads=0
        )
    # The calls per outcome from their daily rollup (a few rows a day; the
    # organisation's own rows), and in the same statement the distinct leads
    # the period's calls won over: not a sum of days (a lead called twice
    # counts once). The organisation's from their rollup too (one row per
    # lead, its first call won over in the period); a rep's or a team's from
    # their calls the promotion marked (``Activity.led_to_lead``, the
    # activity_won_over_at index), no lead joined.
    calls = (
        ColdCallDaily.objects.filter(
            segment.owned("owner_id") or Q(owner_id=EVERYONE),
            day__gte=period.start,
            day__lte=period.end,
        )
        .values(key=F("outcome"))
        .annotate(n=Sum("calls"))
        .order_by()
    )
    won_over = _won_over(period, segment)
    by_key = dict(calls.union(won_over, all=True).values_list("key", "n"))
    dials = sum(n for key, n in by_key.items() if key != WON_OVER)
    connected = sum(by_key.get(outcome, 0) for outcome in CONNECTED_OUTCOMES)
    meetings = by_key.get(Outcome.MEETING_BOOKED, 0)
    return ColdCallKpis(
        cold_calls=dials,
        connected=connected,
        connect_rate=ratio(connected, dials),
        became_leads=by_key.get(WON_OVER, 0),
        meetings_booked=meetings,
        meetings_per_connect=ratio(meetings, connected),
        meetings_per_dial=ratio(meetings, dials),
    )


def _won_over(period: Period, segment: Segment) -> QuerySet:
    """The leads won over by the segment's cold calls of the period: one row,
    keyed ``WON_OVER``."""
    key = Value(WON_OVER, output_field=CharField())
    if not segment.owned("owner"):
        return (
            WonOverDaily.objects.filter(
                day__gte=period.start,
                day__lte=period.end,
                previous_day__lt=period.start,
            )
            .values(key=key)
            .annotate(n=Coalesce(Sum("calls"), 0))
            .order_by()
        )
    start_at, end_at = period.bounds()
    return (
        Activity.objects.cold_calls()
        .filter(
            segment.owned("owner"),
            led_to_lead=True,
            occurred_at__gte=start_at,
            occurred_at__lt=end_at,
        )
        .values(key=key)
        .annotate(n=Count("lead", distinct=True))
        .order_by()
    )
