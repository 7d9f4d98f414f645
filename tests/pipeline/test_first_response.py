"""``Lead.first_response_at``: every write path keeps it equal to its rule.

The rule (docs/metrics.md, "Response time"): the first outbound call, e-mail
or meeting done on the lead at or after ``became_lead_at``. The recomputation
``first_response_since`` is that rule as a query, read by nothing else.
"""

import datetime
import io

import pytest
import time_machine
from django.db import transaction
from django.db.models import OuterRef
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import rollups
from leads import rollups as lead_rollups
from leads import services as lead_services
from leads.importing import leads_import
from leads.models import (
    Lead,
    LeadDurationDaily,
    LeadDurationMonthly,
    first_response_since,
)
from pipeline import rollups as pipeline_rollups
from pipeline.activities import activity_complete, activity_log
from pipeline.models import WonOverDaily
from tests.factories import ContentOfferFactory, LeadFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
MINUTE = datetime.timedelta(minutes=1)


def _recomputed(lead: Lead):
    return (
        Lead.objects.filter(pk=lead.pk)
        .annotate(expected=first_response_since(OuterRef("became_lead_at")))
        .values_list("expected", flat=True)
        .get()
    )


def _column(lead: Lead):
    lead.refresh_from_db()
    return lead.first_response_at


@pytest.fixture
def lead(rep):
    with time_machine.travel(NOON, tick=False):
        return LeadFactory(owner=rep)


@pytest.fixture
def prospect(rep):
    with time_machine.travel(NOON - datetime.timedelta(days=1), tick=False):
        return LeadFactory(owner=rep, status="prospect", channel="outbound")


@time_machine.travel(NOON + 60 * MINUTE, tick=False)
def test_the_first_outbound_touch_is_the_response_and_a_later_one_keeps_it(rep, lead):
    activity_log(by=rep, kind="email", lead=lead, occurred_at=NOON + 30 * MINUTE)
    activity_log(by=rep, kind="call", lead=lead, occurred_at=NOON + 50 * MINUTE)

    assert _column(lead) == NOON + 30 * MINUTE == _recomputed(lead)


@time_machine.travel(NOON + 60 * MINUTE, tick=False)
def test_a_touch_logged_late_but_dated_earlier_becomes_the_response(rep, lead):
    activity_log(by=rep, kind="call", lead=lead, occurred_at=NOON + 50 * MINUTE)
    activity_log(by=rep, kind="meeting", lead=lead, occurred_at=NOON + 5 * MINUTE)

    assert _column(lead) == NOON + 5 * MINUTE == _recomputed(lead)


@time_machine.travel(NOON + 60 * MINUTE, tick=False)
def test_the_leads_own_inbound_email_and_a_note_never_answer_it(rep, lead):
    # issue 14, "the lead answers itself": their own e-mail a minute later
    activity_log(
        by=rep, kind="email", direction="inbound", lead=lead, occurred_at=NOON + MINUTE
    )
    activity_log(by=rep, kind="note", lead=lead, occurred_at=NOON + 2 * MINUTE)

    assert _column(lead) is None
    assert _recomputed(lead) is None
    assert lead.first_activity_at == NOON + MINUTE  # engagement still counts it


def test_a_planned_call_answers_the_lead_only_once_completed(rep, lead):
    with time_machine.travel(NOON + MINUTE, tick=False):
        planned = activity_log(
            by=rep, kind="call", lead=lead, done=False, due_at=NOON + 90 * MINUTE
        )
        assert _column(lead) is None

    with time_machine.travel(NOON + 95 * MINUTE, tick=False):
        activity_complete(activity=planned, by=rep, outcome="connected")

    assert _column(lead) == NOON + 95 * MINUTE == _recomputed(lead)


@time_machine.travel(NOON + 60 * MINUTE, tick=False)
def test_an_activitys_moment_cannot_be_edited_nor_the_activity_deleted(
    api_as, rep, lead
):
    # Activities are a log: the column needs no recomputation on edit or
    # deletion because neither exists; this pins that.
    activity = activity_log(by=rep, kind="call", lead=lead, occurred_at=NOON + MINUTE)
    client = api_as(rep)
    url = f"/api/v1/activities/{activity.pk}/"

    client.patch(
        url, {"occurred_at": "2026-03-10T12:30:00Z", "notes": "left a message"}
    )
    deleted = client.delete(url)

    activity.refresh_from_db()
    assert (activity.occurred_at, activity.notes) == (NOON + MINUTE, "left a message")
    assert deleted.status_code == 405
    assert _column(lead) == NOON + MINUTE == _recomputed(lead)


def test_calls_to_a_prospect_do_not_answer_the_lead_it_becomes(rep, prospect):
    with time_machine.travel(NOON, tick=False):
        activity_log(by=rep, kind="call", outcome="no_answer", lead=prospect)
        assert _column(prospect) is None

    with time_machine.travel(NOON + 10 * MINUTE, tick=False):
        lead_services.lead_promote(lead=prospect, by=rep)
    assert _column(prospect) is None

    with time_machine.travel(NOON + 40 * MINUTE, tick=False):
        activity_log(by=rep, kind="email", lead=prospect)
    assert _column(prospect) == NOON + 40 * MINUTE == _recomputed(prospect)


def test_a_touch_dated_after_a_backdated_promotion_answers_the_lead(rep, prospect):
    # given a call logged at 12:50 on a prospect, then a promotion dated 12:30
    with time_machine.travel(NOON + 60 * MINUTE, tick=False):
        activity_log(
            by=rep, kind="call", outcome="no_answer", lead=prospect,
            occurred_at=NOON + 50 * MINUTE,
        )  # fmt: skip
        lead_services.lead_promote(lead=prospect, by=rep, at=NOON + 30 * MINUTE)

    # then the promotion recomputes it: answered 20 minutes after
    assert _column(prospect) == NOON + 50 * MINUTE == _recomputed(prospect)


def test_an_interested_call_promotes_and_is_the_response_at_its_moment(rep, prospect):
    with time_machine.travel(NOON, tick=False):
        activity_log(by=rep, kind="call", outcome="no_answer", lead=prospect)
    with time_machine.travel(NOON + 60 * MINUTE, tick=False):
        activity_log(
            by=rep, kind="call", outcome="meeting_booked", lead=prospect,
            occurred_at=NOON + 45 * MINUTE,
        )  # fmt: skip

    prospect.refresh_from_db()
    assert prospect.became_lead_at == NOON + 45 * MINUTE
    assert _column(prospect) == NOON + 45 * MINUTE == _recomputed(prospect)


def test_a_capture_by_a_called_prospect_leaves_it_unanswered(rep, prospect):
    with time_machine.travel(NOON, tick=False):
        activity_log(by=rep, kind="call", outcome="no_answer", lead=prospect)
    offer = ContentOfferFactory(slug="playbook", external_url="https://x.example/p")

    with time_machine.travel(NOON + 10 * MINUTE, tick=False):
        lead_services.lead_capture(
            offer=offer, first_name="", last_name="", email=prospect.email,
            company="", job_title="", phone="", consent=False, ip_address=None,
            page_url="", user_agent="",
        )  # fmt: skip

    prospect.refresh_from_db()
    assert prospect.became_lead_at == NOON + 10 * MINUTE
    assert _column(prospect) is None
    assert _recomputed(prospect) is None


def test_an_import_raising_a_called_prospect_leaves_it_unanswered(rep, prospect):
    with time_machine.travel(NOON, tick=False):
        activity_log(by=rep, kind="call", outcome="no_answer", lead=prospect)
    # and a second prospect with a touch dated after the import (a device's
    # clock a few minutes ahead): that one answers the lead it becomes
    with time_machine.travel(NOON, tick=False):
        ahead = LeadFactory(owner=rep, status="prospect", channel="outbound")
    with time_machine.travel(NOON + 10 * MINUTE, tick=False):
        activity_log(by=rep, kind="email", lead=ahead, occurred_at=NOON + 13 * MINUTE)

    with time_machine.travel(NOON + 11 * MINUTE, tick=False):
        report = leads_import(
            file=io.StringIO(
                f"email,status\n{prospect.email},lead\n{ahead.email},lead\n"
            ),
            by=rep,
        )

    assert report.merged == 2
    prospect.refresh_from_db()
    assert prospect.status == "lead"
    assert _column(prospect) is None is _recomputed(prospect)
    assert _column(ahead) == NOON + 13 * MINUTE == _recomputed(ahead)
    # and the cold call, eleven minutes before, won it over: marked and counted
    assert prospect.activities.get().led_to_lead
    assert WonOverDaily.objects.get().calls == 1
    assert list(rollups.drift(pipeline_rollups.WON_OVER)) == []


def test_an_import_raising_an_answered_prospect_counts_its_response_time(rep):
    # given an inbound prospect e-mailed at 12:13 by a device clock ahead
    with time_machine.travel(NOON, tick=False):
        ahead = LeadFactory(owner=rep, status="prospect", channel="inbound")
    with time_machine.travel(NOON + 10 * MINUTE, tick=False):
        activity_log(by=rep, kind="email", lead=ahead, occurred_at=NOON + 13 * MINUTE)

    # when an import at 12:11 makes it a lead
    with time_machine.travel(NOON + 11 * MINUTE, tick=False):
        leads_import(file=io.StringIO(f"email,status\n{ahead.email},lead\n"), by=rep)

    # then its two minutes' response is counted, day and month, as recomputed
    day = LeadDurationDaily.objects.get(measure="response")
    assert (day.bucket, day.leads, day.microseconds) == (2, 1, 120_000_000)
    assert LeadDurationMonthly.objects.get(measure="response").leads == 1
    for rollup in lead_rollups.DURATION_ROLLUPS:
        assert list(rollups.drift(rollup)) == [], rollup.name


# --- any sequence of writes ------------------------------------------------------

operation = st.one_of(
    st.tuples(
        st.just("log"),
        st.sampled_from(["call", "email", "meeting", "note"]),
        st.sampled_from(["outbound", "inbound"]),
        st.sampled_from(["", "no_answer", "meeting_booked"]),
        st.integers(0, 1),  # which person
        st.integers(0, 300),  # minutes backdated
    ),
    st.tuples(st.just("plan"), st.integers(0, 1)),
    st.tuples(st.just("complete"), st.integers(0, 1)),
    st.tuples(st.just("promote"), st.integers(0, 1), st.integers(0, 300)),
)


def _apply(op, people, rep, now):
    kind, *args = op
    person = people[args[0] if kind != "log" else args[3]]
    person.refresh_from_db()
    if kind == "log":
        activity, direction, outcome, _, backdated = args
        if activity not in ("call", "meeting"):
            outcome = ""
        activity_log(
            by=rep, kind=activity, direction=direction, outcome=outcome, lead=person,
            occurred_at=now - backdated * MINUTE,
        )  # fmt: skip
    elif kind == "plan":
        activity_log(
            by=rep, kind="call", lead=person, done=False, due_at=now + 60 * MINUTE
        )
    elif kind == "complete":
        planned = person.activities.filter(done=False).first()
        if planned is not None:
            activity_complete(activity=planned, by=rep)
    elif person.status == "prospect":
        # Never before the record existed.
        at = max(now - args[1] * MINUTE, person.created_at)
        lead_services.lead_promote(lead=person, by=rep, at=at)


@settings(
    max_examples=30,
    database=None,  # no example files in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.integers(1, 240), operation), max_size=12))
def test_the_column_equals_its_recomputation_after_any_writes(rep, steps):
    with transaction.atomic():  # each example rolls back
        moment = NOON
        with time_machine.travel(moment, tick=False):
            people = [
                LeadFactory(owner=rep),
                LeadFactory(owner=rep, status="prospect", channel="outbound"),
            ]
        for minutes, op in steps:
            moment += minutes * MINUTE
            with time_machine.travel(moment, tick=False):
                _apply(op, people, rep, moment)

        for person in people:
            assert _column(person) == _recomputed(person), person.status
        # ... and the response times counted in the rollups are the column's.
        for rollup in lead_rollups.DURATION_ROLLUPS:
            assert list(rollups.drift(rollup)) == [], rollup.name
        transaction.set_rollback(True)
