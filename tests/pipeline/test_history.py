"""pipeline.history builds, in bulk, exactly the history the services write."""

import datetime

import pytest
import time_machine

from pipeline import history, services
from pipeline.history import Step, deal_history
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def _at(hours: int) -> datetime.datetime:
    return START + datetime.timedelta(hours=hours)


def test_deal_history_is_what_the_services_record(rep, make_deal):
    # given: a deal taken through every kind of transition by the services
    with time_machine.travel(_at(0), tick=False):
        deal = make_deal(rep)
    for hours, action in [
        (1, lambda d: services.deal_move(deal=d, to_stage="closing", by=rep)),
        (2, lambda d: services.deal_lose(deal=d, by=rep, reason="price")),
        (3, lambda d: services.deal_reopen(deal=d, by=rep, stage="consideration")),
        (4, lambda d: services.deal_move(deal=d, to_stage="closing", by=rep)),
        (5, lambda d: services.deal_win(deal=d, by=rep)),
    ]:
        with time_machine.travel(_at(hours), tick=False):
            deal = action(deal)

    # when: the same steps go through the builder
    built = deal_history(
        [
            Step("prospection", "open", _at(0), rep.pk),
            Step("closing", "open", _at(1), rep.pk),
            Step("closing", "lost", _at(2), rep.pk),
            Step("consideration", "open", _at(3), rep.pk),
            Step("closing", "open", _at(4), rep.pk),
            Step("closing", "won", _at(5), rep.pk),
        ]
    )

    # then: the same rows and the same deal
    recorded = [
        history.Change(
            c.from_stage, c.to_stage, c.from_status, c.to_status, c.changed_at,
            c.changed_by_id,
        )
        for c in deal.stage_changes.order_by("changed_at", "pk")
    ]  # fmt: skip
    assert list(built.changes) == recorded
    assert (built.stage, built.status, built.version) == (
        deal.stage,
        deal.status,
        deal.version,
    )
    assert (built.closed_at, built.stage_entered_at) == (
        deal.closed_at,
        deal.stage_entered_at,
    )


@pytest.mark.parametrize(
    ("previous", "step"),
    [
        (Step("presentation", "open", 1), Step("presentation", "open", 2)),
        (Step("consideration", "open", 1), Step("consideration", "won", 2)),
        (Step("closing", "open", 1), Step("prospection", "lost", 2)),
        (Step("closing", "won", 1), Step("closing", "lost", 2)),
        (Step("closing", "lost", 1), Step("prospection", "open", 0)),
    ],
    ids=[
        "move to the same stage",
        "win outside closing",
        "lose and move at once",
        "close a closed deal",
        "go back in time",
    ],
)
def test_deal_history_refuses_what_the_services_refuse(previous, step):
    steps = [Step("prospection", "open", 0), previous, step]
    if previous.status != "open":
        steps.insert(1, Step("closing", "open", 0))

    with pytest.raises(ValueError, match=r"refuse|back in time"):
        deal_history(steps)


def test_engagement_folds_what_activity_log_records(rep):
    # given: activities logged by the service, the second one backdated
    lead = LeadFactory(status="lead", owner=rep, channel="inbound")
    times = [_at(5), _at(1), _at(3)]
    with time_machine.travel(_at(6), tick=False):
        for moment in times:
            services.activity_log(by=rep, kind="email", lead=lead, occurred_at=moment)

    # when
    engagement = history.Engagement.of(times)

    # then
    lead.refresh_from_db()
    assert (
        engagement.activity_count,
        engagement.first_activity_at,
        engagement.last_activity_at,
    ) == (lead.activity_count, lead.first_activity_at, lead.last_activity_at)
    assert engagement.first_activity_at == _at(1)


@pytest.mark.parametrize(
    ("kind", "direction", "status", "came_inbound", "cold"),
    [
        ("call", "outbound", "prospect", False, True),
        ("call", "outbound", "prospect", True, False),
        ("call", "outbound", "lead", False, False),
        ("call", "inbound", "prospect", False, False),
        ("email", "outbound", "prospect", False, False),
        ("call", "outbound", None, False, False),
    ],
)
def test_cold_call_rule(kind, direction, status, came_inbound, cold):
    assert (
        history.is_cold_call(
            kind=kind,
            direction=direction,
            lead_status=status,
            came_inbound=came_inbound,
        )
        is cold
    )


def test_a_person_is_a_prospect_until_they_become_a_lead():
    assert history.status_at(_at(1), became_lead_at=None) == "prospect"
    assert history.status_at(_at(1), became_lead_at=_at(2)) == "prospect"
    assert history.status_at(_at(2), became_lead_at=_at(2)) == "lead"
