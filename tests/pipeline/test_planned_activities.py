"""Planned activities: a task due later is accepted, and counts only once done."""

import datetime

import pytest
import time_machine

from leads.models import Lead
from metrics.kpis import cold_call_kpis
from metrics.segments import Period, Segment
from pipeline.models import Activity, Deal
from tests.factories import DealFactory, LeadFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
TOMORROW = "2026-03-11T09:00:00Z"
MARCH = Period(datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
URL = "/api/v1/activities/"


@pytest.fixture
def prospect(rep):
    return LeadFactory(status="prospect", owner=rep, channel="outbound")


def _plan(client, **body):
    return client.post(URL, {"kind": "call", "done": False, "due_at": TOMORROW, **body})


@time_machine.travel(NOON, tick=False)
def test_a_call_planned_for_tomorrow_is_accepted_and_counts_nowhere(
    api_as, rep, prospect
):
    deal = DealFactory(owner=rep)

    response = _plan(api_as(rep), lead=prospect.pk, deal=deal.pk)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["done"], body["occurred_at"], body["is_cold_call"]) == (
        False,
        None,
        False,
    )
    assert body["due_at"] == "2026-03-11T10:00:00+01:00"
    prospect.refresh_from_db()
    assert (prospect.activity_count, prospect.last_activity_at) == (0, None)
    assert Deal.objects.get().last_activity_at is None
    assert cold_call_kpis(period=MARCH, segment=Segment()).cold_calls == 0


@time_machine.travel(NOON, tick=False)
def test_a_done_activity_in_the_future_is_refused_with_a_hint_to_plan_it(
    api_as, rep, prospect
):
    response = api_as(rep).post(
        URL, {"kind": "call", "lead": prospect.pk, "occurred_at": TOMORROW}
    )

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "occurred_at"
    assert "plan it instead" in error["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_at": None}, "due_at"),
        ({"occurred_at": "2026-03-10T11:00:00Z"}, "occurred_at"),
        ({"outcome": "connected"}, "outcome"),
        ({"due_at": "2100-01-01T00:00:00Z"}, "due_at"),
    ],
)
@time_machine.travel(NOON, tick=False)
def test_a_planned_activity_is_due_and_has_not_happened(
    api_as, rep, prospect, body, field
):
    response = _plan(api_as(rep), lead=prospect.pk, **body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == field
    assert not Activity.objects.exists()


def test_completing_a_planned_call_counts_it_then(api_as, rep, prospect):
    client = api_as(rep)
    with time_machine.travel(NOON, tick=False):
        planned = _plan(client, lead=prospect.pk).json()

    with time_machine.travel(NOON + datetime.timedelta(days=1), tick=False):
        response = client.post(
            f"{URL}{planned['id']}/complete/",
            {"outcome": "connected", "duration_seconds": 300},
        )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["done"], body["outcome"], body["is_cold_call"]) == (
        True,
        "connected",
        True,
    )
    assert body["occurred_at"] == "2026-03-11T13:00:00+01:00"
    lead = Lead.objects.get()
    assert lead.activity_count == 1
    assert lead.first_activity_at == NOON + datetime.timedelta(days=1)
    kpis = cold_call_kpis(period=MARCH, segment=Segment())
    assert (kpis.cold_calls, kpis.connected) == (1, 1)


def test_completing_twice_is_a_400_on_done(api_as, rep, prospect):
    # Done is final: no retry can complete it again, so not a 409.
    client = api_as(rep)
    with time_machine.travel(NOON, tick=False):
        planned = _plan(client, lead=prospect.pk).json()
        client.post(f"{URL}{planned['id']}/complete/", {})

        again = client.post(f"{URL}{planned['id']}/complete/", {})

    assert again.status_code == 400
    error = again.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("done", "invalid")
    assert Lead.objects.get().activity_count == 1


def test_completing_checks_if_match_and_answers_the_new_etag(api_as, rep, prospect):
    client = api_as(rep)
    with time_machine.travel(NOON, tick=False):
        planned = _plan(client, lead=prospect.pk)
        url = f"{URL}{planned.json()['id']}/complete/"

        stale = client.post(url, {}, HTTP_IF_MATCH='"7"')
        done = client.post(url, {}, HTTP_IF_MATCH=planned["ETag"])

    assert stale.status_code == 412
    assert Lead.objects.get().activity_count == 1
    assert done.status_code == 200, done.content
    assert done["ETag"] == f'"{done.json()["version"]}"' != planned["ETag"]
    assert Activity.objects.get().done is True


def test_another_team_cannot_complete_a_reps_planned_activity(
    api_as, rep, foreign_rep, prospect
):
    with time_machine.travel(NOON, tick=False):
        planned = _plan(api_as(rep), lead=prospect.pk).json()

        response = api_as(foreign_rep).post(f"{URL}{planned['id']}/complete/", {})

    assert response.status_code == 404
    assert Activity.objects.get().done is False


@time_machine.travel(NOON, tick=False)
def test_planned_activities_are_listed_by_due_time(api_as, rep, prospect):
    client = api_as(rep)
    _plan(client, lead=prospect.pk, due_at="2026-03-13T09:00:00Z")
    _plan(client, lead=prospect.pk, due_at="2026-03-12T09:00:00Z")
    client.post(URL, {"kind": "note", "lead": prospect.pk})

    response = client.get(URL, {"done": "false", "ordering": "due_at"})

    assert [a["due_at"][:10] for a in response.json()["results"]] == [
        "2026-03-12",
        "2026-03-13",
    ]
