"""Win rate, deal size, revenue, cycle, pipeline, velocity and the funnel."""

from decimal import Decimal

import pytest

from metrics import kpis
from metrics.segments import Segment
from pipeline.models import StageSetting
from tests.metrics.datasets import EMPTY, Q1, build_deals

pytestmark = pytest.mark.django_db

EUR, USD = "EUR", "USD"


def test_deal_kpis_of_a_rep(rep, foreign_rep, django_assert_max_num_queries):
    build_deals(rep, foreign_rep)

    # Queries: 1 closed deals per currency, 1 stage settings, 1 open deals per
    # stage and currency on `end` (stage from the history subquery).
    with django_assert_max_num_queries(3):
        result = kpis.deal_kpis(period=Q1, segment=Segment(owner=rep))

    # Closed in Q1: won D1, D2, D6; lost D3. D4 is won after `end`; D5 was lost
    # then reopened and is open now: not closed.
    assert (result.won, result.lost) == (3, 1)
    assert result.win_rate == Decimal("0.75")  # 3 / (3 + 1)
    # Revenue: EUR D1 1000 + D2 3000 = 4000; USD D6 2000.
    assert result.revenue_won == ((EUR, Decimal("4000.00")), (USD, Decimal("2000.00")))
    # Average deal size: EUR 4000 / 2 = 2000; USD 2000 / 1.
    assert result.average_deal_size == (
        (EUR, Decimal("2000.00")),
        (USD, Decimal("2000.00")),
    )
    # Cycle: D1 10 days, D2 62 days, D6 20 days: 92 / 3.
    assert result.average_sales_cycle_days == Decimal(92) / Decimal(3)
    # Open on 03-31: D4 (closing, won only on 04-02) 2000, D5 (reopened,
    # consideration) 800, D7 (moved back to presentation) 1000, D8 400.
    assert result.open_deals == 4
    assert result.pipeline_value == ((EUR, Decimal("4200.00")),)
    # Weighted: D4 2000 x 80% + D5 800 x 60% + D7 1000 x 25% (its own)
    # + D8 400 x 10% = 1600 + 480 + 250 + 40 = 2370.
    assert result.weighted_pipeline == ((EUR, Decimal("2370.00")),)
    # Velocity EUR: 4 deals x 2000 x 0.75 / (92 / 3) = 6000 x 3 / 92 = 195.65;
    # USD: 0 open deals -> 0.
    assert result.sales_velocity_per_day == (
        (EUR, Decimal("195.65")),
        (USD, Decimal("0.00")),
    )
    assert [(r.stage, r.deals, r.amount) for r in result.open_by_stage] == [
        ("prospection", 1, Decimal("400.00")),
        ("presentation", 1, Decimal("1000.00")),
        ("consideration", 1, Decimal("800.00")),
        ("closing", 1, Decimal("2000.00")),
    ]


def test_team_channel_and_everyone(rep, foreign_rep, team):
    build_deals(rep, foreign_rep)

    everyone = kpis.deal_kpis(period=Q1, segment=Segment())
    by_team = kpis.deal_kpis(period=Q1, segment=Segment(team=team))
    inbound = kpis.deal_kpis(period=Q1, segment=Segment(channel="inbound"))

    # Everyone adds DF (won 9999 EUR): 4 won, 1 lost: 4 / 5.
    assert everyone.win_rate == Decimal("0.8")
    assert dict(everyone.revenue_won)[EUR] == Decimal("13999.00")  # 4000 + 9999
    # The team has no DF.
    assert by_team.win_rate == Decimal("0.75")
    # Inbound: only D7, open: no closed deal, win rate 0 / 0 = null.
    assert inbound.win_rate is None
    assert inbound.average_sales_cycle_days is None
    assert inbound.pipeline_value == ((EUR, Decimal("1000.00")),)
    # Velocity needs a win rate and a cycle: null.
    assert inbound.sales_velocity_per_day == ((EUR, None),)


def test_stage_settings_set_the_weight(rep, foreign_rep):
    build_deals(rep, foreign_rep)
    StageSetting.objects.filter(stage="consideration").update(probability=50)

    result = kpis.deal_kpis(period=Q1, segment=Segment(owner=rep))

    # D5 now 800 x 50% = 400: 1600 + 400 + 250 + 40 = 2290.
    assert result.weighted_pipeline == ((EUR, Decimal("2290.00")),)


def test_missing_stage_setting_falls_back_to_the_default(rep, foreign_rep):
    build_deals(rep, foreign_rep)
    StageSetting.objects.filter(stage="closing").delete()

    result = kpis.deal_kpis(period=Q1, segment=Segment(owner=rep))

    # Closing's default is 80%: unchanged 2370.
    assert result.weighted_pipeline == ((EUR, Decimal("2370.00")),)


def test_empty_period(rep, foreign_rep):
    build_deals(rep, foreign_rep)

    result = kpis.deal_kpis(period=EMPTY, segment=Segment())

    assert (result.won, result.lost, result.win_rate) == (0, 0, None)
    assert result.revenue_won == ()
    assert result.average_sales_cycle_days is None
    assert result.open_deals == 0
    assert result.sales_velocity_per_day == ()


def test_funnel_counts_never_grow_down_the_stages(
    rep, foreign_rep, django_assert_max_num_queries
):
    build_deals(rep, foreign_rep)

    # Queries: 1 deals grouped by deepest stage, then the open pipeline (2).
    with django_assert_max_num_queries(3):
        result = kpis.funnel(period=Q1, segment=Segment(owner=rep))

    # Created in Q1: D1, D3, D4, D5, D6, D7, D8 (D2 in 2025, D9 in April) = 7.
    # Deepest stage: D1 closing, D3 qualification, D4 closing (skipped three
    # stages), D5 consideration (lost and reopened: counted once), D6 closing
    # (no history: its current stage), D7 consideration (then moved back),
    # D8 prospection.
    assert result.created == 7
    assert [(s.stage, s.reached) for s in result.stages] == [
        ("prospection", 7),
        ("qualification", 6),  # all but D8
        ("presentation", 5),  # - D3
        ("consideration", 5),
        ("closing", 3),  # D1, D4, D6
    ]
    assert [s.conversion_from_previous for s in result.stages] == [
        None,
        Decimal(6) / Decimal(7),
        Decimal(5) / Decimal(6),
        Decimal(1),
        Decimal("0.6"),  # 3 / 5
    ]
    # Won among them: D1, D4, D6; all three that reached closing: 3 / 3.
    assert result.won == 3
    assert result.closing_to_won_rate == Decimal(1)
    assert sum(row.deals for row in result.open_on_end) == 4


def test_funnel_of_an_empty_period(rep, foreign_rep):
    build_deals(rep, foreign_rep)

    result = kpis.funnel(period=EMPTY, segment=Segment())

    assert result.created == 0
    assert [s.reached for s in result.stages] == [0, 0, 0, 0, 0]
    assert result.stages[1].conversion_from_previous is None  # 0 / 0
    assert result.closing_to_won_rate is None  # 0 / 0


def test_rep_performance_is_one_grouped_query(
    rep, foreign_rep, django_assert_num_queries
):
    build_deals(rep, foreign_rep)

    with django_assert_num_queries(1):
        reps = kpis.rep_performance(period=Q1, segment=Segment())

    by_id = {r.owner_id: r for r in reps}
    # rep: 3 won, 1 lost; foreign_rep: DF won.
    assert by_id[rep.pk].win_rate == Decimal("0.75")
    assert by_id[rep.pk].revenue_won == (
        (EUR, Decimal("4000.00")),
        (USD, Decimal("2000.00")),
    )
    assert by_id[foreign_rep.pk].win_rate == 1
