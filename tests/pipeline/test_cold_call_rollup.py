"""The cold-call rollup: the calls the services log or complete, counted per
day, caller and outcome, and for everyone; the KPIs read it."""

import datetime
import importlib

import pytest
import time_machine
from django.apps import apps
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import rollups
from crm.models import EVERYONE
from metrics import kpis
from metrics.segments import Period, Segment
from pipeline import rollups as pipeline_rollups
from pipeline.activities import activity_complete, activity_log
from pipeline.models import Activity, ColdCallDaily, Outcome
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
)  # fmt: skip


def _at(day: int) -> datetime.datetime:
    """A moment of Q1 (and one day either side), Paris noon."""
    return datetime.datetime(
        2025, 12, 31, 11, tzinfo=datetime.UTC
    ) + datetime.timedelta(days=day)


def _apply(op, by, callers, people) -> None:
    """Log or plan-and-complete a call, ``by`` their manager for a caller."""
    kind, caller, person, day, outcome = op
    owner, lead = callers[caller], people[person]
    if kind == "log":
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
        for owner in (rep, other_rep, None):
            for period in PERIODS:
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
