"""Lead, prospect, qualification, response time and cold call KPIs."""

import datetime
from decimal import Decimal

import pytest

from metrics import kpis
from metrics.segments import Segment
from pipeline.activities import activity_log
from tests.factories import LeadFactory
from tests.metrics.datasets import (
    EMPTY,
    Q1,
    at,
    build_cold_calls,
    build_leads,
    set_created,
)

pytestmark = pytest.mark.django_db


def test_lead_kpis_of_a_rep(rep, foreign_rep, django_assert_max_num_queries):
    offer = build_leads(rep, foreign_rep)

    # Queries: 1 new leads grouped by channel x source x offer (with the
    # offers' titles), 1 those qualified by the end, 1 response figures of
    # the new inbound leads, 1 prospects added (status history), 1 median
    # time to qualify, 1 median response.
    with django_assert_max_num_queries(6):
        result = kpis.lead_kpis(period=Q1, segment=Segment(owner=rep))

    # Entered "lead" in Q1: L1, L2, L3, L4, L7 (L5 did on 2025-12-31).
    assert result.new_leads == 5
    assert result.by_channel == (("inbound", 3), ("outbound", 2))
    assert result.by_source == (
        ("cold_call", 1),
        ("content_download", 2),
        ("prospect_list", 1),
        ("website_form", 1),
    )
    assert result.by_offer == ((offer.pk, "Playbook", 1), (None, None, 4))
    # Created in Q1 as prospects (their first history row): L3 and L6.
    assert result.prospects_added == 2
    # Qualified by 03-31: L1, L2 (L3 on 04-02 is after `end`): 2 / 5.
    assert result.qualified_by_end == 2
    assert result.lead_to_qualified_rate == Decimal("0.4")
    # L1 10 h, L2 48 h: median (10 + 48) / 2 = 29 h.
    assert result.median_hours_to_qualify == Decimal(29)
    # Inbound new leads L1, L2, L7; answered by a user's e-mail: L1 30 min,
    # L2 120 min (L7 not yet): median and mean (30 + 120) / 2 = 75 min.
    assert (result.inbound_new_leads, result.inbound_leads_answered) == (3, 2)
    assert result.median_lead_response_minutes == Decimal(75)
    assert result.mean_lead_response_minutes == Decimal(75)
    # Within the 60-minute service level: L1 only, of 3 (L7 unanswered).
    assert result.lead_response_within_sla_rate == Decimal(1) / Decimal(3)


def test_lead_kpis_by_channel_and_for_everyone(rep, foreign_rep):
    build_leads(rep, foreign_rep)

    inbound = kpis.lead_kpis(period=Q1, segment=Segment(owner=rep, channel="inbound"))
    everyone = kpis.lead_kpis(period=Q1, segment=Segment())
    outbound = kpis.lead_kpis(period=Q1, segment=Segment(channel="outbound"))

    # Inbound: L1, L2, L7; qualified L1, L2: 2 / 3; no prospect is inbound.
    assert inbound.new_leads == 3
    assert inbound.lead_to_qualified_rate == Decimal(2) / Decimal(3)
    assert inbound.prospects_added == 0
    # Everyone: + F1 (foreign team) = 6.
    assert everyone.new_leads == 6
    # Response time is about inbound leads: none on the outbound channel.
    assert outbound.median_lead_response_minutes is None
    assert outbound.inbound_leads_answered == 0


def test_odd_number_of_qualified_leads_takes_the_middle_one(rep):
    for hours in (1, 2, 10):
        LeadFactory(
            owner=rep,
            became_lead_at=at(2026, 2, 1),
            qualified_at=at(2026, 2, 1, hours),
            status="qualified",
        )

    result = kpis.lead_kpis(period=Q1, segment=Segment())

    # Sorted 1, 2, 10 h: the median is 2 h.
    assert result.median_hours_to_qualify == Decimal(2)


def test_empty_period_gives_zero_counts_and_null_ratios(
    rep, foreign_rep, django_assert_max_num_queries
):
    build_leads(rep, foreign_rep)

    # Queries: the four counts; no median query when there is nothing to rank.
    with django_assert_max_num_queries(4):
        result = kpis.lead_kpis(period=EMPTY, segment=Segment())

    assert result.new_leads == 0
    assert result.lead_to_qualified_rate is None  # 0 / 0
    assert result.median_hours_to_qualify is None
    assert result.median_lead_response_minutes is None
    assert result.mean_lead_response_minutes is None
    assert result.lead_response_within_sla_rate is None


def test_period_bounds_follow_the_crm_time_zone(rep, settings):
    settings.TIME_ZONE = "Europe/Paris"
    utc = datetime.UTC
    # 2025-12-31 23:30 UTC is 2026-01-01 00:30 in Paris: inside Q1.
    LeadFactory(
        owner=rep, became_lead_at=datetime.datetime(2025, 12, 31, 23, 30, tzinfo=utc)
    )
    # 2026-03-31 23:30 UTC is 2026-04-01 01:30 in Paris: outside Q1.
    LeadFactory(
        owner=rep, became_lead_at=datetime.datetime(2026, 3, 31, 23, 30, tzinfo=utc)
    )

    result = kpis.lead_kpis(period=Q1, segment=Segment())
    by_month = kpis.new_leads_by_month(period=Q1, segment=Segment())

    assert result.new_leads == 1
    # Counted in January, Paris time.
    assert by_month == ((datetime.date(2026, 1, 1), "inbound", 1),)


def test_cold_call_kpis(rep, foreign_rep, django_assert_num_queries):
    build_cold_calls(rep, foreign_rep)

    # Queries: 1 (count, connected, distinct leads within 30 days, the called
    # lead joined only when it became a lead in the calls' 30-day window).
    with django_assert_num_queries(1):
        mine = kpis.cold_call_kpis(period=Q1, segment=Segment(owner=rep))
    everyone = kpis.cold_call_kpis(period=Q1, segment=Segment())
    inbound = kpis.cold_call_kpis(period=Q1, segment=Segment(channel="inbound"))

    # C1..C4 (C5 is in 2025, the plain call is not cold) = 4.
    assert mine.cold_calls == 4
    # Connected or meeting booked: C1, C3 = 2 / 4.
    assert mine.connect_rate == Decimal("0.5")
    # Meeting booked: C3: 1 per 2 connects, 1 per 4 dials.
    assert mine.meetings_per_connect == Decimal("0.5")
    assert mine.meetings_per_dial == Decimal("0.25")
    # P1 called 01-10, lead 01-25 (15 days); P2 took 42 days: 1 prospect.
    assert mine.became_leads == 1
    # Everyone: + foreign_rep's connected call: 5 calls, 3 connected.
    assert (everyone.cold_calls, everyone.connect_rate) == (5, Decimal("0.6"))
    # Cold calls are outbound: none inbound, connect rate 0 / 0 = null.
    assert (inbound.cold_calls, inbound.connect_rate) == (0, None)


def test_response_time_counts_a_backdated_first_activity(rep):
    lead = LeadFactory(owner=rep, channel="inbound", became_lead_at=at(2026, 2, 1))
    set_created(lead, at(2026, 2, 1))
    # Logged through the activity service: a call at 03:00, then a call made
    # at 01:00 logged late.
    for moment in (at(2026, 2, 1, 3), at(2026, 2, 1, 1)):
        activity_log(by=rep, kind="call", lead=lead, occurred_at=moment)

    result = kpis.lead_kpis(period=Q1, segment=Segment(owner=rep))

    # First outbound touch 01:00, one hour after becoming a lead: 60 min.
    assert result.inbound_leads_answered == 1
    assert result.median_lead_response_minutes == Decimal(60)
    assert result.mean_lead_response_minutes == Decimal(60)
    assert result.lead_response_within_sla_rate == 1  # 60 min is within 60
