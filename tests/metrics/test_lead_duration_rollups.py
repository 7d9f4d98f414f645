"""The organisation's times to qualify and to answer, read from their rollups.

The organisation's figures come from ``LeadDurationDaily`` and
``LeadDurationMonthly``; a rep's from the leads themselves. With every lead
owned by one rep, both must agree, whatever the period's bounds (whole
months, months a bound cuts, an end inside a month) and wherever the
service level falls in its bucket.
"""

import datetime

import pytest

from crm import rollups
from leads import rollups as lead_rollups
from metrics import kpis
from metrics.segments import Period, Segment
from tests.factories import LeadFactory
from tests.metrics.datasets import at

pytestmark = pytest.mark.django_db

d = datetime.date
MINUTE, HOUR = datetime.timedelta(minutes=1), datetime.timedelta(hours=1)
MICRO = datetime.timedelta(microseconds=1)


def _inbound(rep, became, *, answered_after=None, qualified_after=None):
    return LeadFactory(
        owner=rep,
        channel="inbound",
        status="qualified" if qualified_after else "lead",
        became_lead_at=became,
        first_response_at=None if answered_after is None else became + answered_after,
        qualified_at=None if qualified_after is None else became + qualified_after,
    )


DURATION_FIGURES = (
    "qualified_by_end",
    "median_hours_to_qualify",
    "inbound_leads_answered",
    "median_lead_response_minutes",
    "mean_lead_response_minutes",
    "lead_response_within_sla_rate",
)


def _figures(period, segment):
    result = kpis.lead_kpis(period=period, segment=segment)
    return {name: getattr(result, name) for name in DURATION_FIGURES}


@pytest.mark.parametrize("sla_minutes", [60, 90, 5])
def test_answered_exactly_on_the_service_level_is_in_time(rep, settings, sla_minutes):
    settings.CRM_LEAD_RESPONSE_SLA_MINUTES = sla_minutes
    sla = datetime.timedelta(minutes=sla_minutes)
    # given inbound leads answered just before, exactly at and just after
    # the service level, and long after it
    became = at(2026, 2, 10, 9)
    for answered in (sla - MICRO, sla, sla + MICRO, sla + 3 * HOUR):
        _inbound(rep, became, answered_after=answered)

    # then two of four are in time, for the organisation as for its rep
    figures = _figures(Period(d(2026, 1, 1), d(2026, 3, 31)), Segment())
    assert figures["inbound_leads_answered"] == 4
    assert figures["lead_response_within_sla_rate"] == pytest.approx(0.5)
    assert figures == _figures(
        Period(d(2026, 1, 1), d(2026, 3, 31)), Segment(owner=rep)
    )


@pytest.mark.parametrize(
    "period",
    [
        Period(d(2026, 1, 1), d(2026, 3, 31)),  # whole months: the monthly rows
        Period(d(2026, 1, 15), d(2026, 3, 31)),  # a cut first month: its days
        Period(d(2026, 1, 1), d(2026, 2, 20)),  # an end inside a month: days
        Period(d(2026, 2, 1), d(2026, 2, 28)),  # one month
        Period(d(2026, 2, 10), d(2026, 2, 10)),  # one day
    ],
)
def test_the_organisation_reads_what_its_leads_say_for_any_period(rep, period):
    # given leads becoming ones around the periods' bounds, qualified days or
    # weeks later (some after an end), answered within minutes or days
    for i, became in enumerate(
        [
            at(2025, 12, 31, 23, 30),
            at(2026, 1, 14, 22),
            at(2026, 1, 15, 1),
            at(2026, 1, 31, 23, 59),
            at(2026, 2, 10, 8),
            at(2026, 2, 10, 16),
            at(2026, 2, 20, 23),
            at(2026, 3, 20, 12),
            at(2026, 3, 31, 23, 50),
        ]
    ):
        _inbound(
            rep,
            became,
            answered_after=[7 * MINUTE, 2 * HOUR, 3 * 24 * HOUR][i % 3],
            qualified_after=[None, 20 * HOUR, 12 * 24 * HOUR, 40 * 24 * HOUR][i % 4],
        )

    # then the organisation's figures, from the rollups, are its rep's,
    # from the leads
    organisation = _figures(period, Segment())
    assert organisation == _figures(period, Segment(owner=rep))
    assert organisation["inbound_leads_answered"] > 0
    for rollup in lead_rollups.DURATION_ROLLUPS:
        assert list(rollups.drift(rollup)) == [], rollup.name


def test_a_quarter_reads_a_few_monthly_rows_and_ranks_one_bucket(
    rep, django_assert_max_num_queries
):
    # given a quarter's answered and qualified leads
    for day in range(1, 29):
        _inbound(
            rep,
            at(2026, 2, day, 10),
            answered_after=day * MINUTE,
            qualified_after=day * HOUR,
        )

    # then its duration figures are 4 queries: each measure's buckets from
    # the monthly rollup and one bucket's leads ranked (the service level
    # of 60 minutes is a bucket's start: no lead counted for it)
    with django_assert_max_num_queries(4 + 3):  # + new leads, titles, prospects
        result = kpis.lead_kpis(
            period=Period(d(2026, 1, 1), d(2026, 3, 31)), segment=Segment()
        )
    assert result.qualified_by_end == 28
    assert result.median_lead_response_minutes == 14.5
