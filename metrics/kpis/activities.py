"""Activities: cold calls, their connect rate and the prospects they won over."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from leads.models import Channel
from metrics.kpis.numbers import ratio
from metrics.segments import Period, Segment
from pipeline.models import CONNECTED_OUTCOMES, Activity, Outcome


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
    start_at, end_at = period.bounds()
    # Whether a call won its prospect over is a flag the promotion sets
    # (``Activity.led_to_lead``), so no lead is joined. Counting occurred_at
    # (never NULL) rather than the primary key keeps the calls an index-only
    # scan of activity_cold_call_at (or its per-rep twin), which carries the
    # lead, the outcome and the flag.
    row = (
        Activity.objects.cold_calls()
        .filter(
            segment.owned("owner"), occurred_at__gte=start_at, occurred_at__lt=end_at
        )
        .aggregate(
            calls=Count("occurred_at"),
            connected=Count("occurred_at", filter=Q(outcome__in=CONNECTED_OUTCOMES)),
            meetings=Count("occurred_at", filter=Q(outcome=Outcome.MEETING_BOOKED)),
            became_leads=Count("lead", distinct=True, filter=Q(led_to_lead=True)),
        )
    )
    return ColdCallKpis(
        cold_calls=row["calls"],
        connected=row["connected"],
        connect_rate=ratio(row["connected"], row["calls"]),
        became_leads=row["became_leads"],
        meetings_booked=row["meetings"],
        meetings_per_connect=ratio(row["meetings"], row["connected"]),
        meetings_per_dial=ratio(row["meetings"], row["calls"]),
    )
