"""The MRR and customer rollups stay equal to a recomputation from their ledgers.

Random sequences of subscription starts, plan changes, ends and customer
reassignments go through the services; after each sequence the rollups kept
in their transactions equal the ledgers regrouped (``crm.rollups.drift``,
what ``verify_rollups`` runs), the customer spells equal the customer ledger
read as periods, and the revenue and customer KPIs read them
per owner: the customer figures equal those counted from the subscriptions
themselves.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import rollups, services
from crm.errors import Conflict
from crm.models import EVERYONE, MrrDaily, MrrMonthly, MrrMovement, Subscription
from crm.mrr_ledger import spells_drift
from metrics import kpis
from metrics.segments import Period, Segment
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

d = datetime.date
Q1 = Period(d(2026, 1, 1), d(2026, 3, 31))
# Bounds inside months: the monthly rollup's months are split by days.
MID_MONTHS = Period(d(2026, 1, 10), d(2026, 2, 20))
DAY0 = d(2025, 12, 1)

day = st.integers(min_value=0, max_value=150)
# A free plan (no MRR) still makes a customer.
money = st.sampled_from(
    [Decimal("0.00"), Decimal("50.00"), Decimal("120.00"), Decimal("300.00")]
)
operation = st.one_of(
    st.tuples(
        st.just("start"),
        st.integers(0, 2),
        st.sampled_from(["EUR", "USD"]),
        day,
        money,
    ),
    st.tuples(st.just("change"), st.integers(0, 9), day, money),
    st.tuples(st.just("end"), st.integers(0, 9), day),
    # A corrected start day: the ledgers net the old day out.
    st.tuples(st.just("restart"), st.integers(0, 9), day),
    st.tuples(st.just("reassign"), st.integers(0, 2), st.integers(0, 1)),
)


def _apply(op, companies, owners, actor) -> None:
    """Run one operation through its service; a refused one changes nothing."""
    kind, *args = op
    subscriptions = list(Subscription.objects.order_by("pk"))
    try:
        with transaction.atomic():
            if kind == "start":
                company, currency, offset, mrr = args
                services.subscription_start(
                    company=companies[company],
                    by=actor,
                    plan="P",
                    mrr=mrr,
                    currency=currency,
                    started_on=DAY0 + datetime.timedelta(days=offset),
                )
            elif kind == "change" and subscriptions:
                index, offset, mrr = args
                services.subscription_change(
                    subscription=subscriptions[index % len(subscriptions)],
                    by=actor,
                    plan="Q",
                    mrr=mrr,
                    effective_on=DAY0 + datetime.timedelta(days=offset),
                )
            elif kind == "end" and subscriptions:
                index, offset = args
                services.subscription_end(
                    subscription=subscriptions[index % len(subscriptions)],
                    by=actor,
                    ended_on=DAY0 + datetime.timedelta(days=offset),
                )
            elif kind == "restart" and subscriptions:
                index, offset = args
                services.subscription_update(
                    subscription=subscriptions[index % len(subscriptions)],
                    by=actor,
                    started_on=DAY0 + datetime.timedelta(days=offset),
                )
            elif kind == "reassign":
                company, owner = args
                services.company_update(
                    company=companies[company], changes={"owner": owners[owner]}
                )
    except (ValidationError, Conflict):
        pass  # refused (before its start, after its end...): nothing written


def _customers_on(owner, day: datetime.date) -> set[int]:
    """The companies with a subscription running at the end of ``day``,
    counted from the subscriptions (an owner's, or all)."""
    running = Subscription.objects.filter(started_on__lte=day).exclude(
        ended_on__lte=day
    )
    if owner is not None:
        running = running.filter(company__owner=owner)
    return set(running.values_list("company_id", flat=True))


def _ledger_sum(owner, currency: str, day: datetime.date) -> Decimal:
    """The ledger's MRR at the end of ``day`` (an owner's customers, or all)."""
    movements = MrrMovement.objects.filter(currency=currency, effective_on__lte=day)
    if owner is not None:
        movements = movements.filter(company__owner=owner)
    return sum(movements.values_list("amount", flat=True), Decimal(0))


@settings(
    max_examples=25,
    database=None,  # no example files in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_rollup_equals_the_ledger_regrouped_after_any_operations(
    admin_user, rep, other_rep, operations
):
    with transaction.atomic():  # each example rolls back
        owners = [rep, other_rep]
        companies = [CompanyFactory(owner=owners[i % 2]) for i in range(3)]
        for op in operations:
            _apply(op, companies, owners, admin_user)

        for rollup in (
            rollups.MRR,
            rollups.MRR_MONTHS,
            rollups.CUSTOMERS,
            rollups.CUSTOMER_MONTHS,
        ):
            assert list(rollups.drift(rollup)) == [], rollup.name
        assert spells_drift() == {}
        # Per owner and for the organisation (the monthly rollup's EVERYONE
        # rows), over whole months and over months split by a bound, the KPI
        # read from the rollups is the ledger's sum under each customer's
        # current owner.
        for owner in [*owners, None]:
            for period in (Q1, MID_MONTHS):
                figures = kpis.churn(period=period, segment=Segment(owner=owner))
                before = period.start - datetime.timedelta(days=1)
                at_start = _customers_on(owner, before)
                at_end = _customers_on(owner, period.end)
                assert figures.customers_start == len(at_start)
                assert figures.customers_end == len(at_end)
                assert figures.churned_customers == len(at_start - at_end)
                movements = MrrMovement.objects.filter(
                    effective_on__gte=period.start, effective_on__lte=period.end
                )
                if owner is not None:
                    movements = movements.filter(company__owner=owner)
                for point in kpis.churn_series(
                    period=period, segment=Segment(owner=owner)
                ):
                    eve = point.period.start - datetime.timedelta(days=1)
                    assert point.customers_start == len(_customers_on(owner, eve))
                    assert point.churned_customers == len(
                        _customers_on(owner, eve)
                        - _customers_on(owner, point.period.end)
                    )
                for currency, end in figures.mrr_end:
                    assert end == _ledger_sum(owner, currency, period.end)
                for currency, start in figures.mrr_start:
                    assert start == _ledger_sum(owner, currency, before)
                for currency, new in figures.new_mrr:
                    assert new == sum(
                        movements.filter(currency=currency, kind="new").values_list(
                            "amount", flat=True
                        ),
                        Decimal(0),
                    )
        transaction.set_rollback(True)


def test_reassigned_customer_takes_its_mrr_to_the_new_owner(api_as, rep, manager):
    company = CompanyFactory(owner=rep)
    services.subscription_start(
        company=company,
        by=rep,
        plan="P",
        mrr=Decimal("200.00"),
        started_on=d(2026, 1, 10),
    )
    colleague = UserFactory(team=rep.team, role="rep")

    response = api_as(manager).patch(
        f"/api/v1/companies/{company.pk}/", {"owner": colleague.pk}, format="json"
    )

    assert response.status_code == 200
    assert kpis.churn(period=Q1, segment=Segment(owner=rep)).new_mrr == (
        ("EUR", Decimal("0.00")),
    )
    assert kpis.churn(period=Q1, segment=Segment(owner=colleague)).new_mrr == (
        ("EUR", Decimal("200.00")),
    )
    assert kpis.churn(period=Q1, segment=Segment()).new_mrr == (
        ("EUR", Decimal("200.00")),
    )
    assert list(rollups.drift(rollups.MRR)) == []
    assert list(rollups.drift(rollups.MRR_MONTHS)) == []


def test_verify_rollups_reports_drift_and_rebuilds_it(rep, capsys):
    company = CompanyFactory(owner=rep)
    services.subscription_start(
        company=company,
        by=rep,
        plan="P",
        mrr=Decimal("80.00"),
        started_on=d(2026, 2, 3),
    )
    call_command("verify_rollups")
    assert "No drift." in capsys.readouterr().out

    MrrDaily.objects.update(amount=Decimal("1.00"))  # a write around the services
    with pytest.raises(CommandError, match="1 rollup key"):
        call_command("verify_rollups")
    out = capsys.readouterr().out
    assert f"2026-02-03 {rep.pk} EUR new: stored 1.00 1, recomputed 80" in out

    call_command("verify_rollups", "--rebuild")
    call_command("verify_rollups")
    assert "No drift." in capsys.readouterr().out


def test_rebuild_in_batches_equals_what_the_services_kept(rep, other_rep):
    for i, owner in enumerate([rep, other_rep, rep]):
        company = CompanyFactory(owner=owner)
        sub = services.subscription_start(
            company=company,
            by=rep,
            plan="P",
            mrr=Decimal(100 + i),
            started_on=d(2026, 1, 5 + i),
        )
        services.subscription_change(
            subscription=sub,
            by=owner,
            plan="Q",
            mrr=Decimal(150),
            effective_on=d(2026, 2, 1),
        )
    kept = set(
        MrrDaily.objects.values_list("day", "owner", "currency", "kind", "amount")
    )

    rollups.rebuild(rollups.MRR, batch=2)  # ranges of two ledger rows

    assert (
        set(MrrDaily.objects.values_list("day", "owner", "currency", "kind", "amount"))
        == kept
    )


def test_migrations_build_the_rollups_of_existing_ledger_rows(rep):
    from importlib import import_module

    from django.apps import apps

    company = CompanyFactory(owner=rep)
    services.subscription_start(
        company=company,
        by=rep,
        plan="P",
        mrr=Decimal("70.00"),
        started_on=d(2026, 3, 14),
    )
    # As before the migrations.
    MrrDaily.objects.all().delete()
    MrrMonthly.objects.all().delete()

    for name in ("0014_build_mrr_daily_rollup", "0020_build_mrr_monthly_rollup"):
        import_module(f"crm.migrations.{name}").forward(apps, None)

    assert list(rollups.drift(rollups.MRR)) == []
    assert list(rollups.drift(rollups.MRR_MONTHS)) == []
    assert MrrDaily.objects.get().amount == Decimal("70.00")
    assert set(MrrMonthly.objects.values_list("month", "owner_id", "amount")) == {
        (d(2026, 3, 1), rep.pk, Decimal("70.00")),
        (d(2026, 3, 1), EVERYONE, Decimal("70.00")),
    }


def test_a_limited_viewer_never_reads_the_organisations_monthly_rows(
    rep, other_rep, manager
):
    """A manager's MRR and customers are their team's: the organisation's
    rows (owner 0) hold another team's customers too."""
    outsider = UserFactory(role="rep")  # in no team of the manager's
    for owner, mrr in ((rep, "100.00"), (outsider, "900.00")):
        services.subscription_start(
            company=CompanyFactory(owner=owner),
            by=owner,
            plan="P",
            mrr=Decimal(mrr),
            started_on=d(2026, 1, 1),
        )

    team = kpis.churn(period=Q1, segment=Segment(viewer=manager))
    everyone = kpis.churn(period=Q1, segment=Segment())

    assert team.mrr_end == (("EUR", Decimal("100.00")),)
    assert everyone.mrr_end == (("EUR", Decimal("1000.00")),)
    assert (team.customers_end, everyone.customers_end) == (1, 2)


def _movement(company, **fields):
    return MrrMovement(
        **{
            "company": company,
            "currency": "EUR",
            "kind": "new",
            "effective_on": d(2026, 2, 3),
            "amount": Decimal("40.00"),
            **fields,
        }
    )


def _increments(movement, owner):
    row = {
        "day": movement.effective_on,
        "owner_id": owner.pk,
        "currency": "EUR",
        "kind": "new",
        "amount": movement.amount,
        "movements": 1,
    }
    monthly = {**row, "month": d(2026, 2, 1)}
    return [(rollups.MRR, [row]), (rollups.MRR_MONTHS, [monthly])]


def test_a_ledger_row_is_inserted_with_its_rollup_rows(rep):
    company = CompanyFactory(owner=rep)
    movement = _movement(company)

    rollups.insert_with(movement, _increments(movement, rep))

    assert MrrMovement.objects.get(pk=movement.pk).amount == Decimal("40.00")
    assert MrrDaily.objects.get().amount == Decimal("40.00")
    assert MrrMonthly.objects.get().amount == Decimal("40.00")
    assert not movement._state.adding


def test_rows_of_a_rollup_named_twice_are_summed(rep):
    company = CompanyFactory(owner=rep)
    movement = _movement(company)
    increments = _increments(movement, rep)

    rollups.insert_with(movement, [*increments, increments[0]])

    assert MrrDaily.objects.get().amount == Decimal("80.00")
    assert MrrMonthly.objects.get().amount == Decimal("40.00")


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: data-modifying WITH clauses",
)
def test_on_postgresql_the_row_and_its_rollups_are_one_statement(
    rep, django_assert_num_queries
):
    company = CompanyFactory(owner=rep)
    movement = _movement(company)

    with django_assert_num_queries(1):
        rollups.insert_with(movement, _increments(movement, rep))

    assert MrrMovement.objects.filter(pk=movement.pk).exists()
    assert MrrDaily.objects.exists()


def test_a_refused_row_adds_nothing_to_its_rollups(rep):
    company = CompanyFactory(owner=rep)
    movement = _movement(company, kind=None)  # NOT NULL: the insert fails

    with pytest.raises(IntegrityError), transaction.atomic():
        rollups.insert_with(movement, _increments(_movement(company), rep))

    assert not MrrDaily.objects.exists()
    assert not MrrMonthly.objects.exists()


def test_a_ledger_with_save_listeners_is_still_saved_through_them(rep):
    from django.db.models.signals import post_save

    heard = []

    def listener(sender, instance, created, **kwargs):
        heard.append((instance.pk, created))

    company = CompanyFactory(owner=rep)
    movement = _movement(company)
    post_save.connect(listener, sender=MrrMovement)
    try:
        rollups.insert_with(movement, _increments(movement, rep))
    finally:
        post_save.disconnect(listener, sender=MrrMovement)

    assert heard == [(movement.pk, True)]
    assert MrrDaily.objects.get().amount == Decimal("40.00")
