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
    # conditional MAX per boundary day), 1 MRR ledger sums per currency.
    with django_assert_max_num_queries(2):
        result = kpis.churn(period=Q1, segment=Segment())

    # Customers at the start of 01-01 (the end of 12-31): A, B, C, F, G = 5
    # (F ends on 01-01: it was a customer when the day began; D starts later).
    assert result.customers_start == 5
    # Customers at the end of 03-31: A, C (one subscription left), E, G = 4.
    assert result.customers_end == 4
    # Lost: B and F. D started and churned inside: not in the cohort.
    assert result.churned_customers == 2
    assert result.customer_churn_rate == Decimal("0.4")  # 2 / 5
    assert result.retention_rate == Decimal("0.6")  # 1 - 0.4
    # MRR at start: EUR A100 + B200 + C50 + C70 + F80 = 500; USD G1000.
    assert result.mrr_start == (("EUR", Decimal("500.00")), ("USD", Decimal("1000.00")))
    # MRR at end: EUR A100 + C50 + E300 = 450; USD 1000.
    assert result.mrr_end == (("EUR", Decimal("450.00")), ("USD", Decimal("1000.00")))
    # New: D100 (01-10) + E300 (02-01) = 400.
    assert result.new_mrr == (("EUR", Decimal("400.00")), ("USD", Decimal("0.00")))
    # Churned (customers whose last subscription ended): F80 + B200 + D100.
    assert result.churned_mrr == (("EUR", Decimal("380.00")), ("USD", Decimal("0.00")))
    # C lost one of two subscriptions: contraction, not churn.
    assert result.contraction_mrr == (
        ("EUR", Decimal("70.00")),
        ("USD", Decimal("0.00")),
    )
    assert result.expansion_mrr == result.reactivation_mrr
    assert result.expansion_mrr == (("EUR", Decimal("0.00")), ("USD", Decimal("0.00")))
    # Bridge: 500 + 400 - 380 - 70 = 450.
    assert result.net_new_mrr == (("EUR", Decimal("-50.00")), ("USD", Decimal("0.00")))
    # Gross MRR churn: EUR (380 + 70) / 500 = 0.9; USD 0 / 1000.
    assert result.gross_mrr_churn_rate == (("EUR", Decimal("0.9")), ("USD", Decimal(0)))
    # No expansion: net churn = gross churn; retention = 1 - churn.
    assert result.net_mrr_churn_rate == result.gross_mrr_churn_rate
    assert result.gross_revenue_retention == (
        ("EUR", Decimal("0.1")),
        ("USD", Decimal(1)),
    )
    assert result.net_revenue_retention == result.gross_revenue_retention


def test_churn_narrowed_to_a_team_or_rep(rep, foreign_rep, team):
    build_customers(rep, foreign_rep)

    by_team = kpis.churn(period=Q1, segment=Segment(team=team))
    by_rep = kpis.churn(period=Q1, segment=Segment(owner=rep))

    # Without G (foreign team): A, B, C, F at start, B and F lost: 2 / 4.
    assert by_team == by_rep
    assert by_team.customers_start == 4
    assert by_team.customer_churn_rate == Decimal("0.5")
    assert by_team.mrr_start == ((EUR, Decimal("500.00")),)


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
    # Jan: at start A, B, C, F = 4; F ends 01-01 (lost), D starts 01-10;
    # at end A, B, C, D = 4.
    assert (jan.customers_start, jan.customers_end, jan.churned_customers) == (4, 4, 1)
    assert jan.customer_churn_rate == Decimal("0.25")
    # Jan MRR: start 500, - F80 + D100 = 520.
    assert jan.mrr_end == ((EUR, Decimal("520.00")),)
    assert jan.new_mrr == ((EUR, Decimal("100.00")),)
    assert jan.churned_mrr == ((EUR, Decimal("80.00")),)
    # Feb: at start A, B, C, D = 4 (E starts on 02-01: new in Feb, not in
    # the cohort); B ends 02-15: 1 / 4.
    assert (feb.customers_start, feb.churned_customers) == (4, 1)
    assert feb.customer_churn_rate == Decimal("0.25")
    assert feb.new_mrr == ((EUR, Decimal("300.00")),)
    assert feb.churned_mrr == ((EUR, Decimal("200.00")),)
    # Mar: at start A, C, D, E = 4; D ends 03-01 (lost in March, not lost
    # between the months), C's 70 ends 03-10 (C stays: contraction).
    assert (mar.customers_start, mar.churned_customers) == (4, 1)
    assert mar.churned_mrr == ((EUR, Decimal("100.00")),)
    assert mar.contraction_mrr == ((EUR, Decimal("70.00")),)
    # Gross MRR churn (100 + 70) / (100 + 50 + 70 + 100 + 300) = 170 / 620.
    assert mar.gross_mrr_churn_rate == ((EUR, Decimal(170) / Decimal(620)),)
    # The months chain, and add up to the quarter.
    assert jan.mrr_end == feb.mrr_start
    assert feb.mrr_end == mar.mrr_start
    assert jan.customers_end == feb.customers_start
    assert feb.customers_end == mar.customers_start
    quarter = kpis.churn(period=Q1, segment=Segment(owner=rep))
    for name in ("new_mrr", "churned_mrr", "contraction_mrr", "net_new_mrr"):
        monthly = sum(dict(getattr(p, name))[EUR] for p in points)
        assert dict(getattr(quarter, name))[EUR] == monthly, name


def test_customers_on_a_day(rep, foreign_rep):
    build_customers(rep, foreign_rep)
    import datetime

    day = datetime.date(2026, 2, 15)
    # On 02-15: A, C, D, E, G (B ended that day) = 5.
    assert kpis.customers_on(day=day, segment=Segment()) == 5
    assert Period(day, day).months() == [Period(day, day)]
