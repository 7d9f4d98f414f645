"""Customer churn, retention and the MRR bridge (docs/metrics.md, "Churn")."""

from decimal import Decimal

import pytest

from metrics import kpis
from metrics.segments import Period, Segment
from tests.metrics.datasets import EMPTY, Q1, build_customers

pytestmark = pytest.mark.django_db

EUR = "EUR"


def test_churn_over_the_whole_crm(rep, foreign_rep, django_assert_max_num_queries):
    build_customers(rep, foreign_rep)

    # Queries: 1 customer counts (subscriptions grouped by company, one
    # conditional MAX per boundary day), 1 MRR per currency.
    with django_assert_max_num_queries(2):
        result = kpis.churn(period=Q1, segment=Segment())

    # Customers on 01-01: A, B, C, G = 4 (D starts later, F ended on 01-01).
    assert result.customers_start == 4
    # Customers on 03-31: A, C (one subscription left), E, G = 4.
    assert result.customers_end == 4
    # Lost: B only. D started and churned inside: in neither side.
    assert result.churned_customers == 1
    assert result.customer_churn_rate == Decimal("0.25")  # 1 / 4
    assert result.retention_rate == Decimal("0.75")  # 1 - 0.25
    # MRR on start: EUR A100 + B200 + C50 + C70 = 420; USD G1000.
    assert result.mrr_start == (("EUR", Decimal("420.00")), ("USD", Decimal("1000.00")))
    # MRR on end: EUR A100 + C50 + E300 = 450; USD 1000.
    assert result.mrr_end == (("EUR", Decimal("450.00")), ("USD", Decimal("1000.00")))
    # New: E300 (D started after start but is gone on end).
    assert result.new_mrr == (("EUR", Decimal("300.00")), ("USD", Decimal("0.00")))
    # Churned: B200 + C70 = 270 (D's 100 was never in MRR on start).
    assert result.churned_mrr == (("EUR", Decimal("270.00")), ("USD", Decimal("0.00")))
    # Bridge: 420 + 300 - 270 = 450.
    # Gross MRR churn: EUR 270 / 420; USD 0 / 1000.
    assert result.gross_mrr_churn_rate == (
        ("EUR", Decimal(270) / Decimal(420)),
        ("USD", Decimal(0)),
    )


def test_churn_narrowed_to_a_team_or_rep(rep, foreign_rep, team):
    build_customers(rep, foreign_rep)

    by_team = kpis.churn(period=Q1, segment=Segment(team=team))
    by_rep = kpis.churn(period=Q1, segment=Segment(owner=rep))

    # Without G (foreign team): 3 customers on start, B lost: 1/3.
    assert by_team == by_rep
    assert by_team.customers_start == 3
    assert by_team.customer_churn_rate == Decimal(1) / Decimal(3)
    assert by_team.mrr_start == ((EUR, Decimal("420.00")),)


def test_empty_period_has_null_rates(rep, foreign_rep):
    build_customers(rep, foreign_rep)

    result = kpis.churn(period=EMPTY, segment=Segment())

    # Nobody was a customer in 2024: 0 / 0 is null, not 0.
    assert result.customers_start == 0
    assert result.customer_churn_rate is None
    assert result.retention_rate is None
    assert result.mrr_start == ()
    assert result.gross_mrr_churn_rate == ()


def test_monthly_series_in_two_queries(rep, foreign_rep, django_assert_num_queries):
    build_customers(rep, foreign_rep)

    # Queries: the same two as one period, whatever the number of months (the
    # company grouping carries one conditional MAX per distinct boundary day).
    with django_assert_num_queries(2):
        points = kpis.churn_series(period=Q1, segment=Segment(owner=rep))

    assert [p.period for p in points] == Q1.months()
    jan, feb, mar = points
    # Jan: on 01-01 A, B, C = 3; on 01-31 A, B, C, D = 4; none lost.
    assert (jan.customers_start, jan.customers_end, jan.churned_customers) == (3, 4, 0)
    assert jan.customer_churn_rate == 0
    # Jan MRR: start 420, end 420 + D100 = 520, new D100.
    assert jan.mrr_end == ((EUR, Decimal("520.00")),)
    assert jan.new_mrr == ((EUR, Decimal("100.00")),)
    # Feb: on 02-01 A, B, C, D, E = 5; B ends 02-15: 1 / 5.
    assert (feb.customers_start, feb.churned_customers) == (5, 1)
    assert feb.customer_churn_rate == Decimal("0.2")
    # Feb churned MRR: B 200.
    assert feb.churned_mrr == ((EUR, Decimal("200.00")),)
    # Mar: D ended 03-01 (not a customer on 03-01): A, C, E = 3, none lost
    # (C's second subscription ends 03-10 but C stays).
    assert (mar.customers_start, mar.churned_customers) == (3, 0)
    # Mar churned MRR: C70; gross MRR churn 70 / (100 + 120 + 300) = 70 / 520.
    assert mar.churned_mrr == ((EUR, Decimal("70.00")),)
    assert mar.gross_mrr_churn_rate == ((EUR, Decimal(70) / Decimal(520)),)


def test_customers_on_a_day(rep, foreign_rep):
    build_customers(rep, foreign_rep)
    import datetime

    day = datetime.date(2026, 2, 15)
    # On 02-15: A, C, D, E, G (B ended that day) = 5.
    assert kpis.customers_on(day=day, segment=Segment()) == 5
    assert Period(day, day).months() == [Period(day, day)]
