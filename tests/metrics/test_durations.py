"""The exact median of durations, ranked within the bucket that holds it."""

import datetime

import pytest
from django.db import transaction
from django.db.models import Count, DurationField, F, Q, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import rollups
from leads import rollups as lead_rollups
from leads.models import Lead
from metrics.kpis.numbers import durations
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

BECAME = datetime.datetime(2026, 2, 1, 9, tzinfo=datetime.UTC)
MICRO = datetime.timedelta(microseconds=1)
MINUTE, HOUR = datetime.timedelta(minutes=1), datetime.timedelta(hours=1)
DAY, WEEK = datetime.timedelta(days=1), datetime.timedelta(days=7)
SECOND = datetime.timedelta(seconds=1)

# Durations crowded around the buckets' edges (where a truncation could
# misplace a row): whole minutes, hours and days, the hour and the week where
# the bucket's unit changes; negative ones (a decision dated before the
# lead) and weeks apart.
boundary = st.builds(
    lambda units, unit, shift: units * unit + shift * MICRO,
    st.integers(-30, 30),
    st.sampled_from([MINUTE, HOUR, DAY, WEEK]),
    st.integers(-2, 2),
)
WITHIN_AN_HOUR = Q(qualified_at__lte=F("became_lead_at") + HOUR)
anywhere = st.integers(-(10**11), 30 * 24 * 3600 * 10**6).map(lambda us: us * MICRO)


def _leads(owner, spans):
    return Lead.objects.bulk_create(
        LeadFactory.build(
            owner=owner,
            email=f"lead{i}@example.com",
            became_lead_at=BECAME,
            qualified_at=BECAME + span,
            status="qualified",
        )
        for i, span in enumerate(spans)
    )


def _expected_median(spans):
    ranked = sorted(spans)
    middle = ranked[(len(ranked) - 1) // 2 : len(ranked) // 2 + 1]
    return sum(middle, datetime.timedelta()) / len(middle)


@settings(
    max_examples=40,
    database=None,  # no example files in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    spans=st.lists(st.one_of(boundary, anywhere), min_size=1, max_size=25),
)
def test_the_median_and_totals_equal_a_sort_of_every_duration(rep, spans):
    with transaction.atomic():  # each example rolls back
        _leads(rep, spans)

        result = durations(
            Lead.objects.all(),
            "became_lead_at",
            "qualified_at",
            "qualify_bucket",
            total=Sum(
                F("qualified_at") - F("became_lead_at"), output_field=DurationField()
            ),
            within_an_hour=Count("pk", filter=WITHIN_AN_HOUR),
        )

        assert result.count == len(spans)
        assert result.median == _expected_median(spans)
        assert result.totals == {
            "total": sum(spans, datetime.timedelta()),
            "within_an_hour": sum(1 for span in spans if span <= HOUR),
        }
        transaction.set_rollback(True)


def test_one_query_to_count_and_one_to_rank_the_middle_buckets(
    rep, django_assert_num_queries
):
    # Sorted 1 h 10, 1 h 20, 3 h 05, 7 h: the middle pair (ranks 1 and 2)
    # lies in hours 1 and 3; the median is (1 h 20 + 3 h 05) / 2 = 2 h 12 min 30 s.
    _leads(
        rep, [HOUR + 20 * MINUTE, HOUR + 10 * MINUTE, 3 * HOUR + 5 * MINUTE, 7 * HOUR]
    )

    with django_assert_num_queries(2):
        result = durations(
            Lead.objects.all(), "became_lead_at", "qualified_at", "qualify_bucket"
        )

    assert (result.count, result.median) == (
        4,
        datetime.timedelta(hours=2, minutes=12, seconds=30),
    )


def test_nothing_to_rank_is_one_query_and_no_median(django_assert_num_queries):
    with django_assert_num_queries(1):
        result = durations(
            Lead.objects.all(),
            "became_lead_at",
            "qualified_at",
            "qualify_bucket",
            answered=Count("pk"),
            total=Sum(
                F("qualified_at") - F("became_lead_at"), output_field=DurationField()
            ),
        )

    assert result.count == 0
    assert result.median is None
    assert result.totals == {"answered": 0, "total": None}


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (-MINUTE - MICRO, -1),  # a decision before the lead: still ordered
        (-MICRO, 0),
        (59 * MINUTE + 59 * SECOND + 999_999 * MICRO, 59),  # minutes under an hour
        (HOUR, 60),  # then hours: 59 + 1
        (WEEK - MICRO, 226),  # 59 + 167
        (WEEK, 227),  # then days: 220 + 7
        (400 * DAY + HOUR, 620),
    ],
)
def test_the_bucket_of_a_duration(rep, span, bucket):
    [lead] = _leads(rep, [span])

    assert (
        Lead.objects.values_list("qualify_bucket", flat=True).get(pk=lead.pk) == bucket
    )


@settings(
    max_examples=40,
    database=None,  # no example files in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spans=st.lists(st.one_of(boundary, anywhere), min_size=1, max_size=25))
def test_the_rollup_rows_written_in_python_equal_the_databases_buckets(rep, spans):
    # given leads qualified and answered after these spans, written around
    # the services (no rollup row)
    with transaction.atomic():  # each example rolls back
        leads = _leads(rep, spans)
        for lead in leads:
            lead.first_response_at = lead.qualified_at
        Lead.objects.bulk_update(leads, ["first_response_at"])

        # when the rows a service would add are computed in Python
        for lead in leads:
            rollups.add(lead_rollups.LEAD_DURATIONS, lead_rollups.duration_rows(lead))

        # then they equal the database's own buckets, days and sums
        assert list(rollups.drift(lead_rollups.LEAD_DURATIONS)) == []
        transaction.set_rollback(True)
