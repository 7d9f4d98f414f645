"""The cold-call rollups: the calls the services log or complete, counted per
day, caller and outcome, and for everyone; those that won their prospect over,
counted when it becomes a lead; the KPIs read both."""

import contextlib
import datetime
import importlib

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import rollups
from crm.models import EVERYONE
from leads.services import lead_promote
from metrics import kpis
from metrics.segments import Period, Segment
from pipeline import rollups as pipeline_rollups
from pipeline.activities import activity_complete, activity_log
from pipeline.models import (
    NO_EARLIER_CALL,
    Activity,
    ColdCallDaily,
    Outcome,
    WonOverDaily,
)
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 4, 10, 12, tzinfo=datetime.UTC)
Q1 = Period(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
# Bounds inside the quarter's months: the days, not the months, are summed.
MID = Period(datetime.date(2026, 1, 20), datetime.date(2026, 3, 10))
PERIODS = (Q1, MID)
outcomes = st.sampled_from(["", *Outcome.values])
operation = st.one_of(
    # A call logged done, on a prospect (cold) or on a lead (not cold).
    st.tuples(
        st.just("log"), st.integers(0, 1), st.integers(0, 3), st.integers(0, 95),
        outcomes,
    ),
    # A call planned, then completed on a day.
    st.tuples(
        st.just("plan"), st.integers(0, 1), st.integers(0, 3), st.integers(0, 95),
        outcomes,
    ),
    # A person made a lead on a day: the cold calls of the 30 days before won
    # them over (refused for the one who is a lead already).
    st.tuples(
        st.just("promote"), st.just(0), st.integers(0, 3), st.integers(0, 95),
        st.just(""),
    ),
)  # fmt: skip
# Periods cutting a lead's calls won over apart, as the MID one may.
WON_OVER_PERIODS = (
    Q1,
    MID,
    Period(datetime.date(2026, 1, 1), datetime.date(2026, 1, 10)),
    Period(datetime.date(2026, 1, 26), datetime.date(2026, 1, 31)),
    Period(datetime.date(2026, 2, 1), datetime.date(2026, 2, 28)),
)


def _at(day: int) -> datetime.datetime:
    """A moment of Q1 (and one day either side), Paris noon."""
    return datetime.datetime(
        2025, 12, 31, 11, tzinfo=datetime.UTC
    ) + datetime.timedelta(days=day)


def _apply(op, by, callers, people) -> None:
    """Log or plan-and-complete a call, ``by`` their manager for a caller, or
    promote a person."""
    kind, caller, person, day, outcome = op
    owner, lead = callers[caller], people[person]
    if kind == "promote":
        with contextlib.suppress(ValidationError):  # not a prospect (any more)
            lead_promote(lead=lead, by=by, at=_at(day))
    elif kind == "log":
        activity_log(
            by=by,
            owner=owner,
            kind="call",
            lead=lead,
            occurred_at=_at(day),
            outcome=outcome,
        )
    else:
        planned = activity_log(
            by=by, owner=owner, kind="call", lead=lead, done=False, due_at=_at(day)
        )
        activity_complete(
            activity=planned, by=by, occurred_at=_at(day), outcome=outcome
        )


def _counted(owner, period: Period) -> dict:
    """The cold-call figures counted from the activities themselves."""
    start, end = period.bounds()
    calls = Activity.objects.filter(
        is_cold_call=True, occurred_at__gte=start, occurred_at__lt=end
    )
    if owner is not None:
        calls = calls.filter(owner=owner)
    return {
        "cold_calls": calls.count(),
        "connected": calls.filter(outcome__in=["connected", "meeting_booked"]).count(),
        "meetings_booked": calls.filter(outcome="meeting_booked").count(),
        "became_leads": calls.filter(led_to_lead=True)
        .values("lead")
        .distinct()
        .count(),
    }


@settings(
    max_examples=20,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=10))
def test_rollup_equals_the_calls_counted_after_any_sequence(
    manager, rep, other_rep, operations
):
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        callers = [rep, other_rep]
        # Two prospects (their calls are cold), a lead and an inbound
        # prospect (theirs are not).
        people = [
            LeadFactory(owner=rep, status="prospect", channel="outbound"),
            LeadFactory(owner=other_rep, status="prospect", channel="outbound"),
            LeadFactory(owner=rep, status="lead", channel="outbound"),
            LeadFactory(owner=rep, status="prospect", channel="inbound"),
        ]
        for op in operations:
            _apply(op, manager, callers, people)

        assert list(rollups.drift(pipeline_rollups.COLD_CALLS)) == []
        assert list(rollups.drift(pipeline_rollups.WON_OVER)) == []
        for owner in (rep, other_rep, None):
            for period in WON_OVER_PERIODS:
                figures = kpis.cold_call_kpis(
                    period=period, segment=Segment(owner=owner)
                )
                counted = _counted(owner, period)
                assert {name: getattr(figures, name) for name in counted} == counted, (
                    owner,
                    period,
                )
        transaction.set_rollback(True)


def test_a_cold_call_is_counted_under_its_caller_and_everyone(rep):
    with time_machine.travel(NOW, tick=False):
        prospect = LeadFactory(owner=rep, status="prospect", channel="outbound")
        activity_log(
            by=rep,
            kind="call",
            lead=prospect,
            occurred_at=_at(40),
            outcome="connected",
        )
        # A planned call counts nowhere until it is done.
        planned = activity_log(
            by=rep, kind="call", lead=prospect, done=False, due_at=_at(41)
        )
        assert ColdCallDaily.objects.count() == 2
        activity_complete(activity=planned, by=rep, occurred_at=_at(41))

    rows = ColdCallDaily.objects.values_list("day", "owner_id", "outcome", "calls")
    assert set(rows) == {
        (datetime.date(2026, 2, 9), rep.pk, "connected", 1),
        (datetime.date(2026, 2, 9), EVERYONE, "connected", 1),
        (datetime.date(2026, 2, 10), rep.pk, "", 1),
        (datetime.date(2026, 2, 10), EVERYONE, "", 1),
    }  # fmt: skip


def test_a_limited_viewer_never_reads_the_organisations_rows(rep, manager):
    outsider = UserFactory(role="rep")  # in no team of the manager's
    with time_machine.travel(NOW, tick=False):
        for caller in (rep, outsider):
            activity_log(
                by=caller,
                kind="call",
                lead=LeadFactory(owner=caller, status="prospect", channel="outbound"),
                occurred_at=_at(10),
            )

    team = kpis.cold_call_kpis(period=Q1, segment=Segment(viewer=manager))
    everyone = kpis.cold_call_kpis(period=Q1, segment=Segment())

    assert (team.cold_calls, everyone.cold_calls) == (1, 2)


def test_the_migration_builds_the_rollup_of_existing_calls(rep):
    with time_machine.travel(NOW, tick=False):
        activity_log(
            by=rep,
            kind="call",
            lead=LeadFactory(owner=rep, status="prospect", channel="outbound"),
            occurred_at=_at(5),
        )
    ColdCallDaily.objects.all().delete()  # as before the migration

    importlib.import_module("pipeline.migrations.0028_build_cold_call_rollup").forward(
        apps, None
    )

    assert list(rollups.drift(pipeline_rollups.COLD_CALLS)) == []
    assert ColdCallDaily.objects.filter(owner_id=EVERYONE).get().calls == 1


def _called(lead, rep, *days: int) -> None:
    for day in days:
        activity_log(by=rep, kind="call", lead=lead, occurred_at=_at(day))


def test_a_prospect_won_over_counts_once_in_any_period_its_calls_fall_in(rep):
    """Called on 5, 25 January and 2 February, a lead from 3 February."""
    with time_machine.travel(NOW, tick=False):
        won = LeadFactory(owner=rep, status="prospect", channel="outbound")
        _called(won, rep, 5, 25, 33)
        lead_promote(lead=won, by=rep, at=_at(34))
        # Called too long before becoming a lead (9 December, 31 days before).
        late = LeadFactory(owner=rep, status="prospect", channel="outbound")
        _called(late, rep, -22)
        lead_promote(lead=late, by=rep, at=_at(9))
        # Never a lead.
        _called(LeadFactory(owner=rep, status="prospect", channel="outbound"), rep, 6)

    rows = WonOverDaily.objects.values_list("day", "previous_day", "calls")
    assert set(rows) == {
        (datetime.date(2026, 1, 5), NO_EARLIER_CALL, 1),
        (datetime.date(2026, 1, 25), datetime.date(2026, 1, 5), 1),
        (datetime.date(2026, 2, 2), datetime.date(2026, 1, 25), 1),
    }
    won_over = {
        period: kpis.cold_call_kpis(period=period, segment=Segment()).became_leads
        for period in WON_OVER_PERIODS
    }
    # Q1, MID (from 20 January), 1-10 January, 26-31 January (no call), February.
    assert list(won_over.values()) == [1, 1, 1, 0, 1]
    assert kpis.cold_call_kpis(period=Q1, segment=Segment()).cold_calls == 4


def test_a_promotion_counts_the_calls_it_marks_in_one_statement_more(
    rep, django_assert_num_queries
):
    with time_machine.travel(NOW, tick=False):
        called = LeadFactory(owner=rep, status="prospect", channel="outbound")
        _called(called, rep, 95, 96)
        written = LeadFactory(owner=rep, status="prospect", channel="outbound")
        activity_log(by=rep, kind="email", lead=written, occurred_at=_at(96))
        with CaptureQueriesContext(connection) as not_won:
            lead_promote(lead=written, by=rep)
        with django_assert_num_queries(len(not_won.captured_queries) + 1):
            lead_promote(lead=called, by=rep)

    assert WonOverDaily.objects.aggregate(calls=Sum("calls")) == {"calls": 2}
    assert list(rollups.drift(pipeline_rollups.WON_OVER)) == []


def test_the_migration_builds_the_won_over_rollup_of_existing_calls(rep):
    with time_machine.travel(NOW, tick=False):
        lead = LeadFactory(owner=rep, status="prospect", channel="outbound")
        _called(lead, rep, 80, 80, 82)
        lead_promote(lead=lead, by=rep)
    WonOverDaily.objects.all().delete()  # as before the migration

    importlib.import_module("pipeline.migrations.0030_build_won_over_rollup").forward(
        apps, None
    )

    assert list(rollups.drift(pipeline_rollups.WON_OVER)) == []
    # Two calls on 21 March: the second follows the first, on the same day.
    assert set(WonOverDaily.objects.values_list("day", "previous_day", "calls")) == {
        (datetime.date(2026, 3, 21), NO_EARLIER_CALL, 1),
        (datetime.date(2026, 3, 21), datetime.date(2026, 3, 21), 1),
        (datetime.date(2026, 3, 23), datetime.date(2026, 3, 21), 1),
    }
