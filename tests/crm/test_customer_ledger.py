"""The customer ledger: a company becomes a customer when one of its
subscriptions runs and stops when none does, whatever the currency or MRR;
its spells are that ledger read as periods."""

import datetime
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from crm import rollups, services
from crm.models import CustomerChange, CustomerMonthly, CustomerSpell, Subscription
from crm.mrr_ledger import (
    Terms,
    customer_changes_of,
    customer_ledger_rebuild,
    spells_drift,
    spells_of,
)
from metrics import kpis
from metrics.segments import Period, Segment
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

d = datetime.date


def changes(company) -> dict[datetime.date, int]:
    """The company's changes netted per day (zeros dropped)."""
    totals: dict = {}
    for row in CustomerChange.objects.filter(company=company):
        totals[row.effective_on] = totals.get(row.effective_on, 0) + row.change
    return {day: n for day, n in sorted(totals.items()) if n}


def spells(company) -> list[tuple]:
    return list(
        CustomerSpell.objects.filter(company=company).values_list(
            "started_on", "ended_on", "returned_on"
        )
    )


def terms(*spans) -> list[Terms]:
    return [Terms(start, end, Decimal(mrr)) for start, end, mrr in spans]


def test_a_plan_change_or_a_second_subscription_ending_is_no_change():
    assert customer_changes_of(
        terms(
            (d(2026, 1, 1), d(2026, 3, 1), 100),  # changed plan on 03-01
            (d(2026, 3, 1), None, 150),
            (d(2026, 2, 1), d(2026, 4, 1), 20),  # an add-on ends
        )
    ) == {d(2026, 1, 1): 1}


def test_free_plans_and_other_currencies_make_a_customer_too():
    assert customer_changes_of(
        terms((d(2026, 1, 1), d(2026, 2, 1), 0), (d(2026, 2, 1), d(2026, 5, 1), 9))
    ) == {d(2026, 1, 1): 1, d(2026, 5, 1): -1}


def test_a_subscription_ending_the_day_it_starts_never_makes_a_customer():
    assert customer_changes_of(terms((d(2026, 1, 1), d(2026, 1, 1), 50))) == {}


def test_the_services_post_the_changes_and_net_out_a_corrected_start(rep):
    company = CompanyFactory(owner=rep)
    sub = services.subscription_start(
        company=company, by=rep, plan="P", mrr=Decimal(80), started_on=d(2026, 2, 1)
    )
    services.subscription_start(
        company=company,
        by=rep,
        plan="Q",
        mrr=Decimal(10),
        currency="USD",
        started_on=d(2026, 3, 1),
    )
    assert changes(company) == {d(2026, 2, 1): 1}

    services.subscription_update(subscription=sub, by=rep, started_on=d(2026, 1, 15))
    services.subscription_end(
        subscription=sub, by=rep, ended_on=d(2026, 4, 1)
    )  # the USD one still runs
    services.subscription_end(
        subscription=Subscription.objects.get(currency="USD"),
        by=rep,
        ended_on=d(2026, 6, 30),
    )

    assert changes(company) == {d(2026, 1, 15): 1, d(2026, 6, 30): -1}
    assert spells(company) == [(d(2026, 1, 15), d(2026, 6, 30), None)]
    # Append-only: the moved start is a further row, not an edit.
    assert CustomerChange.objects.filter(effective_on=d(2026, 2, 1)).count() == 2
    assert list(rollups.drift(rollups.CUSTOMERS)) == []
    assert list(rollups.drift(rollups.CUSTOMER_MONTHS)) == []


def test_rebuild_posts_subscriptions_written_in_bulk_and_then_nothing(rep):
    company = CompanyFactory(owner=rep)
    Subscription.objects.bulk_create(
        [Subscription(company=company, plan="P", mrr=0, started_on=d(2026, 1, 1),
                      ended_on=d(2026, 3, 1))]
    )  # fmt: skip

    assert customer_ledger_rebuild() == 2
    assert customer_ledger_rebuild() == 0
    assert changes(company) == {d(2026, 1, 1): 1, d(2026, 3, 1): -1}
    assert spells(company) == [(d(2026, 1, 1), d(2026, 3, 1), None)]
    assert kpis.customers_on(day=d(2026, 2, 28), segment=Segment()) == 1
    assert kpis.customers_on(day=d(2026, 3, 1), segment=Segment()) == 0


def test_the_migration_derives_the_ledger_and_its_rollups_and_reverses(rep):
    company = CompanyFactory(owner=rep)
    Subscription.objects.bulk_create(
        [Subscription(company=company, plan="P", mrr=80, started_on=d(2025, 5, 1),
                      ended_on=d(2026, 1, 1))]
    )  # fmt: skip
    migration = importlib.import_module("crm.migrations.0022_build_customer_ledger")

    migration.forward(apps, None)
    assert changes(company) == {d(2025, 5, 1): 1, d(2026, 1, 1): -1}
    assert list(rollups.drift(rollups.CUSTOMERS)) == []
    assert set(
        CustomerMonthly.objects.values_list("month", "owner_id", "customers")
    ) == {
        (d(2025, 5, 1), rep.pk, 1),
        (d(2025, 5, 1), 0, 1),
        (d(2026, 1, 1), rep.pk, -1),
        (d(2026, 1, 1), 0, -1),
    }
    migration.reverse(apps, connection.schema_editor())
    assert not CustomerChange.objects.exists()
    assert not CustomerMonthly.objects.exists()


def test_spells_pair_each_start_with_the_next_end_and_know_the_return():
    assert spells_of(
        {d(2026, 1, 1): 1, d(2026, 2, 1): -1, d(2026, 3, 1): 1, d(2026, 1, 20): 0}
    ) == [
        (d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1)),
        (d(2026, 3, 1), None, None),
    ]
    assert spells_of({}) == []


def test_a_customer_back_within_the_period_is_not_lost_and_gone_again_is(rep):
    period = Period(d(2026, 1, 1), d(2026, 3, 31))
    back, gone_again = CompanyFactory(owner=rep), CompanyFactory(owner=rep)
    for company in (back, gone_again):
        first = services.subscription_start(
            company=company, by=rep, plan="P", mrr=Decimal(50), started_on=d(2025, 6, 1)
        )
        services.subscription_end(subscription=first, by=rep, ended_on=d(2026, 1, 10))
        services.subscription_start(
            company=company, by=rep, plan="P", mrr=Decimal(50), started_on=d(2026, 2, 1)
        )
    services.subscription_end(
        subscription=Subscription.objects.get(
            company=gone_again, started_on=d(2026, 2, 1)
        ),
        by=rep,
        ended_on=d(2026, 3, 15),
    )

    assert spells(back) == [
        (d(2025, 6, 1), d(2026, 1, 10), d(2026, 2, 1)),
        (d(2026, 2, 1), None, None),
    ]
    figures = kpis.churn(period=period, segment=Segment())
    assert (figures.customers_start, figures.customers_end) == (2, 1)
    assert figures.churned_customers == 1
    # January alone: both left, neither was back by its end.
    january = kpis.churn(
        period=Period(d(2026, 1, 1), d(2026, 1, 31)), segment=Segment()
    )
    assert january.churned_customers == 2
    assert kpis.churn(period=period, segment=Segment(owner=rep)).churned_customers == 1


def test_the_spells_migration_reads_them_off_the_ledger_and_reverses(rep):
    company = CompanyFactory(owner=rep)
    CustomerChange.objects.bulk_create(
        [
            CustomerChange(company=company, effective_on=day, change=change)
            for day, change in [
                (d(2025, 5, 1), 1),
                (d(2025, 9, 1), -1),
                (d(2025, 5, 1), -1),
                (d(2025, 6, 1), 1),
            ]
        ]
    )  # fmt: skip  (a start moved from May to June)
    migration = importlib.import_module("crm.migrations.0024_build_customer_spells")

    migration.forward(apps, None)
    assert spells(company) == [(d(2025, 6, 1), d(2025, 9, 1), None)]
    assert spells_drift() == {}
    migration.reverse(apps, connection.schema_editor())
    assert not CustomerSpell.objects.exists()


def test_verify_rollups_reports_spells_drifted_from_the_ledger_and_rewrites_them(
    rep, capsys
):
    company = CompanyFactory(owner=rep)
    services.subscription_start(
        company=company, by=rep, plan="P", mrr=Decimal(5), started_on=d(2026, 1, 1)
    )
    CustomerSpell.objects.update(ended_on=d(2026, 2, 1))  # a write around the services

    with pytest.raises(CommandError, match="1 rollup key"):
        call_command("verify_rollups")
    assert f"company {company.pk}: spells differ" in capsys.readouterr().out
    call_command("verify_rollups", "--rebuild")
    assert spells(company) == [(d(2026, 1, 1), None, None)]
    call_command("verify_rollups")
    assert "No drift." in capsys.readouterr().out


def test_the_ledger_is_append_only(rep):
    company = CompanyFactory(owner=rep)
    services.subscription_start(
        company=company, by=rep, plan="P", mrr=Decimal(5), started_on=d(2026, 1, 1)
    )
    row = CustomerChange.objects.get()

    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()
