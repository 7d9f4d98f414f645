"""Activities: cold calls, their connect rate and the prospects they won over."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, FilteredRelation, Q

from leads.models import Channel
from metrics.kpis.numbers import ratio
from metrics.segments import Period, Segment
from pipeline.models import CONNECTED_OUTCOMES, Activity, Outcome

COLD_CALL_TO_LEAD_WINDOW = datetime.timedelta(days=30)


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
    # The called lead joined only when it became a lead in the calls' window:
    # a call of [start, end) counts a lead that became one within 30 days of
    # it, so between start and end + 30 days. On PostgreSQL those leads are an
    # index-only range scan of lead_became_lead (it carries the id), hashed to
    # the period's cold calls, instead of one primary-key probe per call (or,
    # for a plain join to the nullable lead, a sequential scan of every lead).
    row = (
        Activity.objects.cold_calls()
        .filter(
            segment.owned("owner"), occurred_at__gte=start_at, occurred_at__lt=end_at
        )
        .alias(
            lead_in_window=FilteredRelation(
                "lead",
                condition=Q(
                    lead__became_lead_at__gte=start_at,
                    lead__became_lead_at__lt=end_at + COLD_CALL_TO_LEAD_WINDOW,
                ),
            )
        )
        # Counting occurred_at (never NULL) rather than the primary key keeps
        # the calls an index-only scan of activity_cold_call_at (or its per-rep
        # twin), which carries the lead and the outcome.
        .aggregate(
            calls=Count("occurred_at"),
            connected=Count("occurred_at", filter=Q(outcome__in=CONNECTED_OUTCOMES)),
            meetings=Count("occurred_at", filter=Q(outcome=Outcome.MEETING_BOOKED)),
            became_leads=Count(
                "lead_in_window",
                distinct=True,
                filter=Q(
                    lead_in_window__became_lead_at__gte=F("occurred_at"),
                    lead_in_window__became_lead_at__lte=F("occurred_at")
                    + COLD_CALL_TO_LEAD_WINDOW,
                ),
            ),
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
