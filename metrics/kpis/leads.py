"""Leads and prospects: new leads, qualification, response time, leads by month."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DurationField, F, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from leads.models import Channel, Lead, LeadStatus, LeadStatusDaily
from metrics.kpis.numbers import in_units, median, ratio
from metrics.segments import Period, Segment


@dataclass(frozen=True)
class LeadKpis:
    """New leads, their qualification and response time (docs/metrics.md, "Leads")."""

    new_leads: int
    by_channel: tuple[tuple[str, int], ...]
    by_source: tuple[tuple[str, int], ...]
    # (offer id or None, offer title or "", count)
    by_offer: tuple[tuple[int | None, str, int], ...]
    prospects_added: int
    qualified_by_end: int
    lead_to_qualified_rate: Decimal | None
    median_hours_to_qualify: Decimal | None
    # Response: the period's new inbound leads, to a user's first outbound touch.
    inbound_new_leads: int
    inbound_leads_answered: int
    median_lead_response_minutes: Decimal | None
    mean_lead_response_minutes: Decimal | None
    lead_response_within_sla_rate: Decimal | None


def _rollup(rows: list[dict], *keys: str) -> tuple:
    """Sum the grouped rows' ``n`` over the distinct values of ``keys``."""
    totals: dict = defaultdict(int)
    for row in rows:  # aggregated rows (channel x source x offer), not leads
        totals[tuple(row[key] for key in keys)] += row["n"]
    return tuple((*key, n) for key, n in sorted(totals.items(), key=str))


def lead_kpis(*, period: Period, segment: Segment) -> LeadKpis:
    """Return new leads, prospects added, qualification and response time.

    Four queries at most: the period's new leads grouped by channel x source
    x offer, with in each group those qualified by ``end`` and the response
    figures of the inbound ones (one pass over one index); prospects added (a
    sum over the status history's daily rollup); then one ordered OFFSET
    query per median (skipped when nothing to rank).
    """
    start_at, end_at = period.bounds()
    leads = Lead.objects.filter(segment.owned("owner"), segment.on_channel("channel"))
    new_leads = leads.filter(became_lead_at__gte=start_at, became_lead_at__lt=end_at)
    # Not "qualified_at IS NOT NULL AND qualified_at < end": the planner
    # multiplies the two clauses' selectivities (both count the NULLs) and
    # expects a tenth of the rows, then prefers the qualified_at index.
    qualified = Q(qualified_at__lt=end_at)
    sla = datetime.timedelta(minutes=settings.CRM_LEAD_RESPONSE_SLA_MINUTES)
    # The response is a column the services keep (Lead.first_response_at),
    # so its figures are sums over the same rows as the new leads: counted
    # per group here and added up below, no activity probed.
    inbound = Q(channel=Channel.INBOUND)
    response_time = F("first_response_at") - F("became_lead_at")
    # Counting columns of the lead_became_lead index (NULLs are not counted)
    # rather than the primary key keeps this an index-only scan.
    rows = list(
        new_leads.values("channel", "source", "offer", "offer__title")
        .annotate(
            n=Count("became_lead_at"),
            qualified=Count("qualified_at", filter=qualified),
            answered=Count("first_response_at", filter=inbound),
            within_sla=Count(
                "first_response_at",
                filter=inbound & Q(first_response_at__lte=F("became_lead_at") + sla),
            ),
            response_total=Sum(
                response_time, filter=inbound, output_field=DurationField()
            ),
        )
        .order_by()
    )
    total = sum(row["n"] for row in rows)
    qualified_count = sum(row["qualified"] for row in rows)
    inbound_rows = [row for row in rows if row["channel"] == Channel.INBOUND]
    inbound_count = sum(row["n"] for row in inbound_rows)
    answered = sum(row["answered"] for row in inbound_rows)
    within_sla = sum(row["within_sla"] for row in inbound_rows)
    response_total = sum(
        (row["response_total"] for row in inbound_rows if row["response_total"]),
        datetime.timedelta(),
    )

    # What each record was created as is its first history row (exact, where
    # comparing two timestamps needed a tolerance), counted per day in the
    # history's rollup.
    prospects_added = LeadStatusDaily.objects.filter(
        segment.owned("owner"),
        segment.on_channel("channel"),
        from_status="",
        to_status=LeadStatus.PROSPECT,
        day__gte=period.start,
        day__lte=period.end,
    ).aggregate(n=Coalesce(Sum("changes"), 0))["n"]

    to_qualify = median(
        new_leads.filter(qualified),
        F("qualified_at") - F("became_lead_at"),
        qualified_count,
    )
    # The answered inbound leads only: the lead_inbound_answered index.
    response = median(
        new_leads.filter(inbound, first_response_at__isnull=False),
        response_time,
        answered,
    )
    hour, minute = datetime.timedelta(hours=1), datetime.timedelta(minutes=1)
    return LeadKpis(
        new_leads=total,
        by_channel=_rollup(rows, "channel"),
        by_source=_rollup(rows, "source"),
        by_offer=_rollup(rows, "offer", "offer__title"),
        prospects_added=prospects_added,
        qualified_by_end=qualified_count,
        lead_to_qualified_rate=ratio(qualified_count, total),
        median_hours_to_qualify=None
        if to_qualify is None
        else in_units(to_qualify, hour),
        inbound_new_leads=inbound_count,
        inbound_leads_answered=answered,
        median_lead_response_minutes=(
            None if response is None else in_units(response, minute)
        ),
        mean_lead_response_minutes=ratio(in_units(response_total, minute), answered),
        lead_response_within_sla_rate=ratio(within_sla, inbound_count),
    )


def new_leads_by_month(
    *, period: Period, segment: Segment
) -> tuple[tuple[datetime.date, str, int], ...]:
    """Return (month, channel, new leads) over the period (1 query)."""
    start_at, end_at = period.bounds()
    rows = (
        Lead.objects.filter(
            segment.owned("owner"),
            segment.on_channel("channel"),
            became_lead_at__gte=start_at,
            became_lead_at__lt=end_at,
        )
        .annotate(
            month=TruncMonth("became_lead_at", tzinfo=timezone.get_default_timezone())
        )
        .values("month", "channel")
        .annotate(n=Count("pk"))
        .order_by("month", "channel")
    )
    return tuple(
        (timezone.localtime(row["month"]).date(), row["channel"], row["n"])
        for row in rows
    )
