"""The revenue KPIs read the MRR ledger: plan changes are not churn, history stays,
events on a period's first day count in it, and periods chain and add up."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import services
from crm.models import Subscription
from metrics import kpis
from metrics.segments import Period, Segment
from tests.factories import CompanyFactory, SubscriptionFactory
from tests.metrics.datasets import Q1

pytestmark = pytest.mark.django_db

d = datetime.date
EUR = "EUR"
FEB = Period(d(2026, 2, 1), d(2026, 2, 28))


def eur(figures) -> Decimal | None:
    return dict(figures).get(EUR)


def test_plan_change_by_end_and_start_on_one_day_is_expansion_not_churn(rep):
    company = CompanyFactory(owner=rep)
    old = SubscriptionFactory(
        company=company, mrr=Decimal(200), started_on=d(2025, 6, 1)
    )
    # What a billing system without a plan-change action sends: end, then start.
    services.subscription_end(subscription=old, by=rep, ended_on=d(2026, 2, 10))
    SubscriptionFactory(company=company, mrr=Decimal(300), started_on=d(2026, 2, 10))

    result = kpis.churn(period=FEB, segment=Segment(owner=rep))

    # One customer all along: upgraded 200 -> 300, so +100 expansion.
    assert (result.customers_start, result.churned_customers) == (1, 0)
    assert eur(result.churned_mrr) == 0  # was 200
    assert eur(result.new_mrr) == 0  # was 300
    assert eur(result.expansion_mrr) == Decimal(100)
    assert eur(result.gross_mrr_churn_rate) == 0  # was 200 / 200 = 1
    # Net MRR churn (0 + 0 - 100) / 200 = -0.5: expansion outgrew losses.
    assert eur(result.net_mrr_churn_rate) == Decimal("-0.5")
    assert eur(result.net_revenue_retention) == Decimal("1.5")


def test_downgrade_through_the_change_action_is_contraction(api_as, rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(200), started_on=d(2025, 6, 1)
    )

    api_as(rep).post(
        f"/api/v1/subscriptions/{sub.pk}/change/",
        {"plan": "Lite", "mrr": "150", "effective_on": "2026-02-01"},
    )
    result = kpis.churn(period=FEB, segment=Segment(owner=rep))

    assert eur(result.contraction_mrr) == Decimal(50)
    assert eur(result.churned_mrr) == 0
    # Gross MRR churn counts contraction: 50 / 200.
    assert eur(result.gross_mrr_churn_rate) == Decimal("0.25")
    assert eur(result.gross_revenue_retention) == Decimal("0.75")


def test_a_later_plan_change_never_rewrites_a_closed_period(api_as, rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(200), started_on=d(2025, 6, 1)
    )
    before = kpis.churn(period=Q1, segment=Segment(owner=rep))

    response = api_as(rep).post(
        f"/api/v1/subscriptions/{sub.pk}/change/",
        {"plan": "Scale", "mrr": "900", "effective_on": "2026-05-01"},
    )

    assert response.status_code == 201
    after = kpis.churn(period=Q1, segment=Segment(owner=rep))
    assert after == before
    assert eur(after.mrr_start) == eur(after.mrr_end) == Decimal(200)


def test_events_on_the_first_day_belong_to_that_period(rep):
    company_a, company_b = CompanyFactory(owner=rep), CompanyFactory(owner=rep)
    SubscriptionFactory(
        company=company_a,
        mrr=Decimal(80),
        started_on=d(2025, 5, 1),
        ended_on=d(2026, 2, 1),
    )
    SubscriptionFactory(company=company_b, mrr=Decimal(300), started_on=d(2026, 2, 1))

    jan, feb = kpis.churn_series(
        period=Period(d(2026, 1, 1), FEB.end), segment=Segment(owner=rep)
    )

    # A ends on 02-01: in February's cohort and February's churn, not January's.
    assert (feb.customers_start, feb.churned_customers) == (1, 1)
    assert eur(feb.churned_mrr) == Decimal(80)
    assert jan.churned_customers == 0
    # B starts on 02-01: new in February, not in its cohort.
    assert eur(feb.new_mrr) == Decimal(300)
    assert eur(feb.mrr_start) == Decimal(80)
    # January's end is February's start.
    assert jan.mrr_end == feb.mrr_start
    assert jan.customers_end == feb.customers_start


def test_a_returning_customer_is_a_reactivation(rep):
    company = CompanyFactory(owner=rep)
    SubscriptionFactory(
        company=company,
        mrr=Decimal(100),
        started_on=d(2025, 1, 1),
        ended_on=d(2025, 9, 1),
    )
    SubscriptionFactory(company=company, mrr=Decimal(120), started_on=d(2026, 2, 3))

    result = kpis.churn(period=FEB, segment=Segment(owner=rep))

    assert eur(result.reactivation_mrr) == Decimal(120)
    assert eur(result.new_mrr) == 0
    assert eur(result.net_new_mrr) == Decimal(120)


# --- properties over random subscription histories --------------------------------

DAYS = (d(2025, 12, 1) - d(2025, 10, 1)).days + 200  # Oct 2025 .. mid-Apr 2026
MRRS = st.sampled_from([Decimal(0), Decimal(50), Decimal("99.90"), Decimal(200)])

subscription = st.fixed_dictionaries(
    {
        "company": st.integers(0, 2),
        "currency": st.sampled_from([EUR, EUR, "USD"]),
        "start": st.integers(0, DAYS),
        "mrr": MRRS,
        # Days after the start: an end, and a plan change before it.
        "end": st.none() | st.integers(0, 120),
        "change": st.none() | st.tuples(st.integers(0, 120), MRRS),
        "end_first": st.booleans(),
    }
)


def _apply(plan: dict, company, rep) -> None:
    """Record one subscription's life through the services, in either order."""
    start = d(2025, 10, 1) + datetime.timedelta(days=plan["start"])
    sub = services.subscription_start(
        company=company,
        by=rep,
        plan="P",
        mrr=plan["mrr"],
        currency=plan["currency"],
        started_on=start,
    )
    end = None if plan["end"] is None else start + datetime.timedelta(days=plan["end"])
    change = plan["change"]
    if change is not None:
        effective = start + datetime.timedelta(days=change[0])
        if end is not None and effective >= end:
            change = None
    if plan["end_first"] and end is not None:
        services.subscription_end(subscription=sub, by=rep, ended_on=end)
    if change is not None:
        # After the end: a backdated billing sync splits the ended subscription.
        sub = services.subscription_change(
            subscription=sub, by=rep, plan="Q", mrr=change[1], effective_on=effective
        )
    if not plan["end_first"] and end is not None:
        services.subscription_end(subscription=sub, by=rep, ended_on=end)


def _running_mrr(day: datetime.date) -> dict[str, Decimal]:
    """MRR at the end of ``day`` straight from the subscriptions (the oracle)."""
    totals: dict[str, Decimal] = {}
    for sub in Subscription.objects.filter(started_on__lte=day):
        if sub.ended_on is None or sub.ended_on > day:
            totals[sub.currency] = totals.get(sub.currency, Decimal(0)) + sub.mrr
    return {currency: amount for currency, amount in totals.items() if amount}


def _money(figures) -> dict[str, Decimal]:
    return {currency: amount for currency, amount in figures if amount}


ADDITIVE = (
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "reactivation_mrr",
    "net_new_mrr",
)


@settings(
    max_examples=20,
    database=None,  # no example files in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(subscription, min_size=1, max_size=6))
def test_periods_chain_and_months_add_up_to_the_quarter(rep, plans):
    with transaction.atomic():  # each example rolls back
        companies = [CompanyFactory(owner=rep) for _ in range(3)]
        for plan in plans:
            _apply(plan, companies[plan["company"]], rep)

        months = kpis.churn_series(period=Q1, segment=Segment())
        quarter = kpis.churn(period=Q1, segment=Segment())

        # The ledger agrees with the subscriptions at every boundary.
        assert _money(quarter.mrr_start) == _running_mrr(d(2025, 12, 31))
        for month in months:
            assert _money(month.mrr_end) == _running_mrr(month.period.end)
        # Consecutive periods chain, for MRR and customers.
        for before, after in itertools.pairwise(months):
            assert _money(before.mrr_end) == _money(after.mrr_start)
            assert before.customers_end == after.customers_start
        assert _money(months[0].mrr_start) == _money(quarter.mrr_start)
        assert _money(months[-1].mrr_end) == _money(quarter.mrr_end)
        assert months[0].customers_start == quarter.customers_start
        assert months[-1].customers_end == quarter.customers_end
        # Every movement figure of the months adds up to the quarter's.
        for name in ADDITIVE:
            summed: dict[str, Decimal] = {}
            for month in months:
                for currency, amount in getattr(month, name):
                    summed[currency] = summed.get(currency, Decimal(0)) + amount
            assert _money(summed.items()) == _money(getattr(quarter, name)), name
        # The bridge: end = start + net new, in each currency.
        start, net = dict(quarter.mrr_start), dict(quarter.net_new_mrr)
        for currency, end in quarter.mrr_end:
            assert end == start[currency] + net[currency]
        transaction.set_rollback(True)
