"""A deal keeps the deepest stage it reached, which the funnel counts by."""

import datetime
from importlib import import_module

import pytest
import time_machine
from django.apps import apps

from metrics import kpis
from metrics.segments import Period, Segment
from pipeline import history, services
from pipeline.history import Step, deal_history
from pipeline.models import Deal
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
MARCH = Period(datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))


def _at(hours: int) -> datetime.datetime:
    return START + datetime.timedelta(hours=hours)


def _there_and_back(rep, make_deal) -> Deal:
    """Presentation, on to consideration, back to prospection, lost, reopened
    in qualification: the deepest stage it reached is consideration."""
    with time_machine.travel(_at(0), tick=False):
        deal = make_deal(rep, stage="presentation")
    for hours, action in [
        (1, lambda d: services.deal_move(deal=d, to_stage="consideration", by=rep)),
        (2, lambda d: services.deal_move(deal=d, to_stage="prospection", by=rep)),
        (3, lambda d: services.deal_lose(deal=d, by=rep, reason="price")),
        (4, lambda d: services.deal_reopen(deal=d, by=rep, stage="qualification")),
    ]:
        with time_machine.travel(_at(hours), tick=False):
            deal = action(deal)
    return deal


def test_moves_back_and_a_reopening_keep_the_deepest_stage(rep, make_deal):
    deal = _there_and_back(rep, make_deal)

    deal.refresh_from_db()
    assert (deal.stage, deal.deepest_stage) == ("qualification", "consideration")
    # The builder the demo, the datasets and the benchmark use agrees.
    built = deal_history(
        [
            Step("presentation", "open", _at(0)),
            Step("consideration", "open", _at(1)),
            Step("prospection", "open", _at(2)),
            Step("prospection", "lost", _at(3)),
            Step("qualification", "open", _at(4)),
        ]
    )
    assert built.deepest_stage == deal.deepest_stage


def test_the_guarded_move_and_the_locking_path_both_deepen(rep, make_deal):
    # A deal from the services moves in one guarded UPDATE.
    deal = make_deal(rep, stage="qualification")
    deal = services.deal_move(deal=deal, to_stage="closing", by=rep)
    deal.refresh_from_db()
    assert deal.deepest_stage == "closing"

    # A deal written without history (an import) takes the locking path; the
    # stage it leaves counts as reached.
    imported = DealFactory(owner=rep, stage="consideration")
    services.deal_move(deal=imported, to_stage="qualification", by=rep)
    imported.refresh_from_db()
    assert (imported.stage, imported.deepest_stage) == (
        "qualification",
        "consideration",
    )


def test_the_funnel_counts_a_deal_at_its_deepest_stage(rep, make_deal):
    _there_and_back(rep, make_deal)

    result = kpis.funnel(period=MARCH, segment=Segment(owner=rep))

    assert [(s.stage, s.reached) for s in result.stages] == [
        ("prospection", 1),
        ("qualification", 1),
        ("presentation", 1),
        ("consideration", 1),
        ("closing", 0),
    ]


def test_the_migration_fills_it_from_the_history(rep, make_deal):
    deal = _there_and_back(rep, make_deal)
    untouched = DealFactory(owner=rep, stage="closing")  # no history
    Deal.objects.update(deepest_stage="prospection")  # as before the migration

    import_module("pipeline.migrations.0020_deal_deepest_stage").forward(apps, None)

    assert dict(Deal.objects.values_list("pk", "deepest_stage")) == {
        deal.pk: "consideration",
        untouched.pk: "closing",
    }


@pytest.mark.parametrize(
    ("stages", "deepest"),
    [
        (("prospection",), "prospection"),
        (("closing", "qualification"), "closing"),
        (("qualification", "presentation", "prospection"), "presentation"),
    ],
)
def test_deeper_is_the_funnels_order(stages, deepest):
    assert history.deeper(*stages) == deepest
