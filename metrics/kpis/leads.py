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

from crm.durations import bucket_of, bucket_start
from leads.models import (
    Channel,
    ContentOffer,
    DurationMeasure,
    Lead,
    LeadDurationDaily,
    LeadDurationMonthly,
    LeadStatus,
    LeadStatusDaily,
    NewLeadDaily,
    NewProspectDaily,
)
from metrics.kpis.numbers import Durations, durations, in_units, ratio
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


MINUTE = datetime.timedelta(minutes=1)

# A lead's response time: from becoming a lead to a user's first outbound touch.
RESPONSE_TIME = F("first_response_at") - F("became_lead_at")


def _rollup(rows: list[dict], *keys: str) -> tuple:
    """Sum the grouped rows' ``n`` over the distinct values of ``keys``."""
    totals: dict = defaultdict(int)
    for row in rows:  # aggregated rows (channel x source x offer), not leads
        totals[tuple(row[key] for key in keys)] += row["n"]
    return tuple((*key, n) for key, n in sorted(totals.items(), key=str))


def _new_lead_counts(period: Period, segment: Segment, new_leads) -> list[dict]:
    """Return the period's new leads counted per channel, source and offer.

    For the whole organisation, from the daily rollup (``NewLeadDaily``: a few
    dozen rows a day instead of every lead); for a team or a rep, whose rows
    the rollup does not split, from their new leads in one grouped pass.
    Each row: channel, source, offer (its id, or None), offer__title, n.
    """
    if segment.owned("owner"):
        return list(
            new_leads.values("channel", "source", "offer", "offer__title")
            .annotate(n=Count("became_lead_at"))
            .order_by()
        )
    rows = list(
        NewLeadDaily.objects.filter(
            segment.on_channel("channel"),
            day__gte=period.start,
            day__lte=period.end,
        )
        .values("channel", "source", "offer_key")
        .annotate(n=Sum("leads"))
        .order_by()
    )
    # Titles apart (1 query over the few offers counted): as a subquery in
    # the grouped query, it would run once per rollup row.
    titles = dict(
        ContentOffer.objects.filter(
            pk__in={row["offer_key"] for row in rows if row["offer_key"]}
        ).values_list("pk", "title")
    )
    return [
        {
            "channel": row["channel"],
            "source": row["source"],
            "offer": row["offer_key"] or None,
            "offer__title": titles.get(row["offer_key"]),
            "n": row["n"],
        }
        for row in rows
    ]


def lead_kpis(*, period: Period, segment: Segment) -> LeadKpis:
    """Return new leads, prospects added, qualification and response time.

    Seven queries at most: the period's new leads per channel x source x
    offer (``_new_lead_counts``, with the titles of the organisation's
    offers); those qualified by ``end`` and the inbound ones' response
    figures, each counted per bucket of its duration (``Lead.qualify_bucket``,
    ``response_bucket``): a team's or a rep's from its own partial index
    (the qualified, the answered inbound), the organisation's from the
    duration rollups (``_organisation_buckets``); prospects added (a sum over
    the status history's daily rollup); then, per median, one query ranking
    only the rows of the bucket that holds it (skipped when nothing to rank).
    """
    start_at, end_at = period.bounds()
    leads = Lead.objects.filter(segment.owned("owner"), segment.on_channel("channel"))
    new_leads = leads.filter(became_lead_at__gte=start_at, became_lead_at__lt=end_at)
    rows = _new_lead_counts(period, segment, new_leads)
    total = sum(row["n"] for row in rows)
    inbound_count = sum(row["n"] for row in rows if row["channel"] == Channel.INBOUND)

    # Not "qualified_at IS NOT NULL AND qualified_at < end": the planner
    # multiplies the two clauses' selectivities (both count the NULLs) and
    # expects a tenth of the rows, then prefers the qualified_at index.
    to_qualify = durations(
        new_leads.filter(qualified_at__lt=end_at),
        "became_lead_at",
        "qualified_at",
        bucket="qualify_bucket",
        per_bucket=_organisation_buckets(
            period, segment, DurationMeasure.QUALIFY, by_end=True
        ),
    )
    answered = new_leads.filter(
        channel=Channel.INBOUND, first_response_at__isnull=False
    )
    response = (
        _response_figures(answered)
        if segment.owned("owner")
        else _organisation_response_figures(period, segment, answered)
    )
    hour, minute = datetime.timedelta(hours=1), datetime.timedelta(minutes=1)
    return LeadKpis(
        new_leads=total,
        by_channel=_rollup(rows, "channel"),
        by_source=_rollup(rows, "source"),
        by_offer=_rollup(rows, "offer", "offer__title"),
        prospects_added=_prospects_added(period, segment),
        qualified_by_end=to_qualify.count,
        lead_to_qualified_rate=ratio(to_qualify.count, total),
        median_hours_to_qualify=None
        if to_qualify.median is None
        else in_units(to_qualify.median, hour),
        inbound_new_leads=inbound_count,
        inbound_leads_answered=response.count,
        median_lead_response_minutes=(
            None if response.median is None else in_units(response.median, minute)
        ),
        mean_lead_response_minutes=ratio(
            in_units(response.totals["total"], minute), response.count
        ),
        lead_response_within_sla_rate=ratio(
            response.totals["within_sla"], inbound_count
        ),
    )


def _organisation_buckets(
    period: Period, segment: Segment, measure: str, *, by_end: bool = False
) -> list[dict] | None:
    """The organisation's leads of the period counted per bucket of a
    duration (``by_end``: ended by the period's end), with their durations'
    sum, as ``durations`` counts them; None for a team or a rep, whose leads
    are counted themselves (1 query).

    From the rollups: the whole months from ``LeadDurationMonthly`` (a few
    thousand rows a quarter, however many leads), the days of a month the
    period cuts from ``LeadDurationDaily``. "By the end" of a day inside a
    month needs each lead's end day: such a period reads days only.
    """
    if segment.owned("owner"):
        return None
    months = period.months()
    whole = [m.start for m in months if m.start.day == 1 and _ends_a_month(m.end)]
    if by_end and not _ends_a_month(period.end):
        whole = []
    cut = Q()
    for month in months:
        if month.start not in whole:
            cut |= Q(day__gte=month.start, day__lte=month.end)
    parts = []
    if whole:
        # An end month is a first day: up to the end's own month.
        ended = {"end_month__lte": period.end} if by_end else {}
        rows = LeadDurationMonthly.objects.filter(
            month__gte=whole[0], month__lte=whole[-1], **ended
        )
        parts.append(_summed_per_bucket(rows, segment, measure))
    if cut:
        ended = {"end_day__lte": period.end} if by_end else {}
        rows = LeadDurationDaily.objects.filter(cut, **ended)
        parts.append(_summed_per_bucket(rows, segment, measure))
    return list(parts[0].union(*parts[1:], all=True))


def _summed_per_bucket(rows, segment: Segment, measure: str):
    return (
        rows.filter(segment.on_channel("channel"), measure=measure)
        .values(_bucket=F("bucket"))
        .annotate(
            _n=Sum("leads"),
            microseconds=Sum("microseconds"),
            on_edge=Sum("on_edge"),
        )
        .order_by()
    )


def _ends_a_month(day: datetime.date) -> bool:
    return (day + datetime.timedelta(days=1)).day == 1


def _organisation_response_figures(
    period: Period, segment: Segment, answered_leads
) -> Durations:
    """``_response_figures`` for the organisation, from the duration rollup
    (2 queries; 3 for a service level that is not a bucket's start).

    Within the service level: every bucket under the one holding it, and of
    that bucket those answered in time. The level is a setting the rollup
    does not know: when it is its bucket's start (whole minutes under an
    hour, whole hours under a week), those are the rollup's ``on_edge``;
    otherwise they are counted from the leads.
    """
    sla = datetime.timedelta(minutes=settings.CRM_LEAD_RESPONSE_SLA_MINUTES)
    figures = durations(
        answered_leads,
        "became_lead_at",
        "first_response_at",
        bucket="response_bucket",
        microseconds=Sum("microseconds"),
        on_edge=Sum("on_edge"),
        per_bucket=_organisation_buckets(period, segment, DurationMeasure.RESPONSE),
    )
    edge = bucket_of(sla)
    rows = figures.per_bucket
    within = sum(row["_n"] for bucket, row in rows.items() if bucket < edge)
    if edge in rows and sla >= MINUTE and bucket_start(edge) == sla:
        within += rows[edge]["on_edge"]
    elif edge in rows:
        within += answered_leads.filter(
            response_bucket=edge, first_response_at__lte=F("became_lead_at") + sla
        ).count()
    total = figures.totals["microseconds"]
    if total is not None:  # a sum of big integers: a Decimal on PostgreSQL
        total = datetime.timedelta(microseconds=int(total))
    return Durations(
        figures.count, figures.median, {"within_sla": within, "total": total}
    )


def _response_figures(answered_leads) -> Durations:
    """Count the answered inbound leads, those answered within the service
    level, sum their response times and find their median (2 queries).

    The response is a column the services keep (``Lead.first_response_at``):
    aggregates over the answered inbound leads (the lead_inbound_answered
    index, then lead_response_bucket for the median's bucket), no activity
    probed.
    """
    sla = datetime.timedelta(minutes=settings.CRM_LEAD_RESPONSE_SLA_MINUTES)
    return durations(
        answered_leads,
        "became_lead_at",
        "first_response_at",
        bucket="response_bucket",
        within_sla=Count(
            "first_response_at",
            filter=Q(first_response_at__lte=F("became_lead_at") + sla),
        ),
        total=Sum(RESPONSE_TIME, output_field=DurationField()),
    )


def _prospects_added(period: Period, segment: Segment) -> int:
    """Count the records created as prospects in the period (1 query).

    What each record was created as is its first history row (exact, where
    comparing two timestamps needed a tolerance), counted per day: the
    organisation's in the new-prospect rollup (a row per day and channel),
    a team's or a rep's in the status history's rollup (its
    leadstatusdaily_prospects index).
    """
    if not segment.owned("owner"):
        return NewProspectDaily.objects.filter(
            segment.on_channel("channel"),
            day__gte=period.start,
            day__lte=period.end,
        ).aggregate(n=Coalesce(Sum("prospects"), 0))["n"]
    return LeadStatusDaily.objects.filter(
        segment.owned("owner"),
        segment.on_channel("channel"),
        from_status="",
        to_status=LeadStatus.PROSPECT,
        day__gte=period.start,
        day__lte=period.end,
    ).aggregate(n=Coalesce(Sum("changes"), 0))["n"]


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
