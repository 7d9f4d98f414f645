"""Closed periods stand: deal KPIs count each close as it stood at the period's end,
read from the stage history, so a later reopen never rewrites an earlier period."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from metrics import kpis
from metrics.segments import Period, Segment
from pipeline import services
from tests.metrics.datasets import Q1, at

pytestmark = pytest.mark.django_db

DEC = Period(datetime.date(2025, 12, 1), datetime.date(2025, 12, 31))
JAN = Period(datetime.date(2026, 1, 1), datetime.date(2026, 1, 31))
Q2 = Period(datetime.date(2026, 4, 1), datetime.date(2026, 6, 30))


def _deal(rep, created, amount="1000"):
    with time_machine.travel(created, tick=False):
        return services.deal_create(
            by=rep,
            title="Acme",
            channel="outbound",
            amount=Decimal(amount),
            stage="closing",
        )


def _at(moment, action, deal, rep, **kwargs):
    with time_machine.travel(moment, tick=False):
        deal.refresh_from_db()
        return action(deal=deal, by=rep, **kwargs)


def test_a_deal_won_then_reopened_later_stays_won_in_its_quarter(
    rep, django_assert_max_num_queries
):
    deal = _deal(rep, at(2026, 1, 10))
    _at(at(2026, 2, 10), services.deal_win, deal, rep)
    before = kpis.deal_kpis(period=Q1, segment=Segment(owner=rep))

    _at(at(2026, 5, 4), services.deal_reopen, deal, rep)

    # Queries: closed deals 1 (history subqueries), stage settings 1, open 1.
    with django_assert_max_num_queries(3):
        after = kpis.deal_kpis(period=Q1, segment=Segment(owner=rep))
    assert after == before
    # Won on 02-10, 31 days after creation: Q1 keeps it.
    assert (after.won, after.win_rate) == (1, Decimal(1))
    assert after.revenue_won == (("EUR", Decimal("1000.00")),)
    assert after.average_sales_cycle_days == Decimal(31)
    # Closed, so not in the pipeline of 31 March either.
    assert after.open_deals == 0
    # Q2: the reopen happened there: open at its end, not closed in it.
    q2 = kpis.deal_kpis(period=Q2, segment=Segment(owner=rep))
    assert (q2.won, q2.lost, q2.open_deals) == (0, 0, 1)


def test_a_deal_lost_in_december_and_won_in_january_counts_in_each(rep):
    deal = _deal(rep, at(2025, 11, 20))
    _at(at(2025, 12, 15), services.deal_lose, deal, rep, reason="price")
    _at(at(2026, 1, 5), services.deal_reopen, deal, rep)
    _at(at(2026, 1, 20), services.deal_win, deal, rep)

    december = kpis.deal_kpis(period=DEC, segment=Segment(owner=rep))
    january = kpis.deal_kpis(period=JAN, segment=Segment(owner=rep))

    # December's win rate stays 0 / 1 (it was "no data" once reopened).
    assert (december.won, december.lost, december.win_rate) == (0, 1, Decimal(0))
    assert (january.won, january.lost, january.win_rate) == (1, 0, Decimal(1))
    # Per rep, the same history.
    (row,) = kpis.rep_performance(period=DEC, segment=Segment(owner=rep))
    assert (row.won, row.lost) == (0, 1)


def test_reopened_and_closed_again_in_one_period_counts_once(rep):
    deal = _deal(rep, at(2026, 1, 2))
    _at(at(2026, 1, 5), services.deal_lose, deal, rep, reason="price")
    _at(at(2026, 1, 8), services.deal_reopen, deal, rep)
    _at(at(2026, 1, 12), services.deal_win, deal, rep)

    result = kpis.deal_kpis(period=JAN, segment=Segment(owner=rep))

    # The close that stood at the end of January: won, once.
    assert (result.won, result.lost) == (1, 0)
    assert result.average_sales_cycle_days == Decimal(10)
