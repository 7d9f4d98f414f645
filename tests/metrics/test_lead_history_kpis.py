"""Lead KPIs read the status history and answer to users' outbound touches only."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from leads import services
from metrics import kpis
from metrics.segments import Segment
from pipeline.activities import activity_log
from tests.factories import ContentOfferFactory
from tests.metrics.datasets import Q1

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 2, 2, 9, tzinfo=datetime.UTC)


def minutes(n: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=n)


def _capture(email: str):
    return services.lead_capture(
        offer=ContentOfferFactory(),
        first_name="Ann",
        last_name="",
        email=email,
        company="",
        job_title="",
        phone="",
        consent=True,
        ip_address=None,
        page_url="",
        user_agent="",
    )


def test_the_leads_own_message_is_not_a_response(rep, team, settings):
    team.handles_inbound = True
    team.save()
    with time_machine.travel(T0, tick=False):
        lead = _capture("ann@acme.example")
    with time_machine.travel(minutes(120), tick=False):
        # The lead writes back a minute after capture; a rep notes something;
        # the rep calls 90 minutes after capture.
        activity_log(
            by=rep, kind="email", direction="inbound", lead=lead, occurred_at=minutes(1)
        )
        activity_log(by=rep, kind="note", lead=lead, occurred_at=minutes(5))
        activity_log(by=rep, kind="call", lead=lead, occurred_at=minutes(90))

    result = kpis.lead_kpis(period=Q1, segment=Segment())

    # 90 minutes, not 1 (the inbound e-mail) nor 5 (a note).
    assert result.median_lead_response_minutes == Decimal(90)
    assert result.mean_lead_response_minutes == Decimal(90)
    # Outside the 60-minute service level; within a 120-minute one.
    assert result.lead_response_within_sla_rate == 0
    settings.CRM_LEAD_RESPONSE_SLA_MINUTES = 120
    assert (
        kpis.lead_kpis(period=Q1, segment=Segment()).lead_response_within_sla_rate == 1
    )


def test_a_prospect_promoted_within_a_minute_was_still_added_as_a_prospect(rep):
    with time_machine.travel(T0, tick=False):
        prospect = services.lead_create(
            by=rep, email="p@acme.example", status="prospect"
        )
    with time_machine.travel(minutes(0.5), tick=False):
        services.lead_promote(lead=prospect, by=rep)
    with time_machine.travel(minutes(0.7), tick=False):
        services.lead_create(by=rep, email="l@acme.example")

    result = kpis.lead_kpis(period=Q1, segment=Segment(owner=rep))

    # Created as a prospect (its first history row), then a lead 30 s later;
    # the other was created as a lead: 1 prospect added, 2 new leads.
    assert result.prospects_added == 1
    assert result.new_leads == 2


def test_a_cold_called_prospect_who_books_a_meeting_becomes_a_lead(rep):
    with time_machine.travel(T0, tick=False):
        prospect = services.lead_create(
            by=rep, email="p@acme.example", status="prospect"
        )
    with time_machine.travel(minutes(60), tick=False):
        call = activity_log(
            by=rep, kind="call", outcome="meeting_booked", lead=prospect
        )

    result = kpis.cold_call_kpis(period=Q1, segment=Segment(owner=rep))

    assert call.is_cold_call
    assert result.became_leads == 1  # was always 0: no way to become a lead
    assert result.meetings_per_dial == 1
