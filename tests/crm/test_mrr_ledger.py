"""Plan changes are explicit and kept; the MRR ledger moves per customer and day."""

import datetime
import importlib
import io
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from crm import services
from crm.models import MrrMovement, Subscription
from crm.mrr_ledger import mrr_ledger_rebuild
from tests.factories import CompanyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

d = datetime.date


def ledger(company) -> list[tuple[datetime.date, str, Decimal]]:
    """Return the customer's movements netted per day and kind (zeros dropped)."""
    totals: dict = {}
    for row in MrrMovement.objects.filter(company=company):
        key = (row.effective_on, row.kind)
        totals[key] = totals.get(key, Decimal(0)) + row.amount
    return sorted(
        (day, kind, amount) for (day, kind), amount in totals.items() if amount
    )


def test_upgrade_through_the_change_action_is_one_expansion(api_as, rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(200), started_on=d(2026, 1, 1)
    )

    response = api_as(rep).post(
        f"/api/v1/subscriptions/{sub.pk}/change/",
        {"plan": "Scale", "mrr": "300.00", "effective_on": "2026-02-10"},
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["plan"], body["mrr"], body["started_on"], body["replaces"]) == (
        "Scale",
        "300.00",
        "2026-02-10",
        sub.pk,
    )
    sub.refresh_from_db()
    assert (sub.mrr, sub.ended_on) == (Decimal(200), d(2026, 2, 10))  # kept
    # New 200 on 01-01; on 02-10 one expansion of 300 - 200, never churn + new.
    assert ledger(company) == [
        (d(2026, 1, 1), "new", Decimal(200)),
        (d(2026, 2, 10), "expansion", Decimal(100)),
    ]


def test_billing_end_and_start_on_one_day_nets_to_one_movement(api_as, integration):
    company = CompanyFactory()
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(200), started_on=d(2026, 1, 1)
    )
    client = api_as(integration)

    # The billing system ends the old plan, then starts the new one that day.
    client.post(f"/api/v1/subscriptions/{sub.pk}/end/", {"ended_on": "2026-03-01"})
    assert ledger(company)[-1] == (d(2026, 3, 1), "churn", Decimal(-200))
    response = client.post(
        "/api/v1/subscriptions/",
        {
            "company": company.pk,
            "plan": "Basic",
            "mrr": "150",
            "currency": "EUR",
            "started_on": "2026-03-01",
        },
    )

    assert response.status_code == 201, response.json()
    # The churn posted first is netted out: one contraction of 50 that day.
    assert ledger(company) == [
        (d(2026, 1, 1), "new", Decimal(200)),
        (d(2026, 3, 1), "contraction", Decimal(-50)),
    ]


def test_patch_cannot_rewrite_mrr_or_plan(api_as, rep):
    sub = SubscriptionFactory(company=CompanyFactory(owner=rep), mrr=Decimal(200))
    client = api_as(rep)

    response = client.patch(
        f"/api/v1/subscriptions/{sub.pk}/", {"mrr": "999.00", "plan": "Other"}
    )

    assert response.status_code == 400
    fields = {error["attr"]: error["detail"] for error in response.json()["errors"]}
    assert f"/api/v1/subscriptions/{sub.pk}/change/" in fields["mrr"]
    assert "change/" in fields["plan"]
    sub.refresh_from_db()
    assert (sub.mrr, sub.plan) == (Decimal(200), "Pro")
    # Sending the current values back (a PUT of what was read) is harmless.
    unchanged = client.patch(f"/api/v1/subscriptions/{sub.pk}/", {"mrr": "200.00"})
    assert unchanged.status_code == 200


@pytest.mark.parametrize(
    ("effective_on", "message"),
    [("2025-12-31", "before the subscription starts"), ("2026-03-01", "before the")],
)
def test_change_never_before_the_start_or_from_the_end(
    api_as, rep, effective_on, message
):
    sub = SubscriptionFactory(
        company=CompanyFactory(owner=rep),
        started_on=d(2026, 1, 1),
        ended_on=d(2026, 3, 1),
    )

    response = api_as(rep).post(
        f"/api/v1/subscriptions/{sub.pk}/change/",
        {"plan": "Scale", "mrr": "300", "effective_on": effective_on},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "effective_on"
    assert message in response.json()["errors"][0]["detail"]
    assert Subscription.objects.count() == 1


@time_machine.travel(
    datetime.datetime(2026, 5, 20, 10, tzinfo=datetime.UTC), tick=False
)
def test_change_defaults_to_today(rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(100), started_on=d(2026, 1, 1)
    )

    successor = services.subscription_change(
        subscription=sub, by=rep, plan="Lite", mrr=Decimal(60)
    )

    assert successor.started_on == d(2026, 5, 20)
    assert ledger(company)[-1] == (d(2026, 5, 20), "contraction", Decimal(-40))


def test_change_on_the_first_day_amends_the_terms(rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(100), started_on=d(2026, 1, 1)
    )

    same = services.subscription_change(
        subscription=sub,
        by=rep,
        plan="Scale",
        mrr=Decimal(250),
        effective_on=d(2026, 1, 1),
    )

    assert same.pk == sub.pk
    assert Subscription.objects.count() == 1
    # One new movement of 250 on 01-01 (the 100 never ran).
    assert ledger(company) == [(d(2026, 1, 1), "new", Decimal(250))]


def test_backdated_change_corrects_the_later_churn_without_editing_rows(rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(200), started_on=d(2026, 1, 1)
    )
    services.subscription_end(subscription=sub, by=rep, ended_on=d(2026, 4, 1))
    posted = set(MrrMovement.objects.values_list("pk", "amount"))

    # A billing sync reports an upgrade on 02-01, after the end was recorded.
    services.subscription_change(
        subscription=sub,
        by=rep,
        plan="Scale",
        mrr=Decimal(300),
        effective_on=d(2026, 2, 1),
    )

    # Earlier rows are untouched; the ledger now churns the 300 that ran.
    assert posted <= set(MrrMovement.objects.values_list("pk", "amount"))
    assert ledger(company) == [
        (d(2026, 1, 1), "new", Decimal(200)),
        (d(2026, 2, 1), "expansion", Decimal(100)),
        (d(2026, 4, 1), "churn", Decimal(-300)),
    ]


def test_churn_only_when_the_last_subscription_ends_and_a_return_reactivates(rep):
    company = CompanyFactory(owner=rep)
    a = SubscriptionFactory(company=company, mrr=Decimal(50), started_on=d(2026, 1, 1))
    b = SubscriptionFactory(company=company, mrr=Decimal(70), started_on=d(2026, 1, 1))

    services.subscription_end(subscription=a, by=rep, ended_on=d(2026, 2, 1))
    services.subscription_end(subscription=b, by=rep, ended_on=d(2026, 3, 1))
    SubscriptionFactory(company=company, mrr=Decimal(90), started_on=d(2026, 5, 1))

    assert ledger(company) == [
        (d(2026, 1, 1), "new", Decimal(120)),
        (d(2026, 2, 1), "contraction", Decimal(-50)),
        (d(2026, 3, 1), "churn", Decimal(-70)),
        (d(2026, 5, 1), "reactivation", Decimal(90)),
    ]


def test_ledger_is_per_currency(rep):
    company = CompanyFactory(owner=rep)
    SubscriptionFactory(company=company, mrr=Decimal(50), started_on=d(2026, 1, 1))
    SubscriptionFactory(
        company=company, mrr=Decimal(70), currency="USD", started_on=d(2026, 1, 5)
    )

    rows = MrrMovement.objects.order_by("effective_on")
    assert [(r.currency, r.kind, r.amount) for r in rows] == [
        ("EUR", "new", Decimal(50)),
        ("USD", "new", Decimal(70)),
    ]


def test_ledger_rows_are_append_only(rep):
    SubscriptionFactory(company=CompanyFactory(owner=rep))
    movement = MrrMovement.objects.get()

    movement.amount = Decimal(1)
    with pytest.raises(ValueError, match="append-only"):
        movement.save()
    with pytest.raises(ValueError, match="append-only"):
        movement.delete()


def test_rebuild_posts_rows_written_in_bulk_and_then_nothing(rep):
    company = CompanyFactory(owner=rep)
    Subscription.objects.bulk_create(
        [
            Subscription(company=company, plan="P", mrr=200, started_on=d(2026, 1, 1),
                         ended_on=d(2026, 3, 1)),
            Subscription(company=company, plan="Q", mrr=260, started_on=d(2026, 3, 1)),
        ]
    )  # fmt: skip

    assert mrr_ledger_rebuild() == 2
    assert mrr_ledger_rebuild() == 0  # in line: no drift
    assert ledger(company) == [
        (d(2026, 1, 1), "new", Decimal(200)),
        (d(2026, 3, 1), "expansion", Decimal(60)),
    ]


def test_backfill_migration_derives_the_ledger_and_reverses(rep):
    company = CompanyFactory(owner=rep)
    Subscription.objects.bulk_create(
        [
            Subscription(company=company, plan="P", mrr=80, started_on=d(2025, 5, 1),
                         ended_on=d(2026, 1, 1)),
        ]
    )  # fmt: skip
    migration = importlib.import_module("crm.migrations.0010_backfill_mrr_movements")

    migration.forward(apps, None)
    assert ledger(company) == [
        (d(2025, 5, 1), "new", Decimal(80)),
        (d(2026, 1, 1), "churn", Decimal(-80)),
    ]
    migration.reverse(apps, connection.schema_editor())
    assert not MrrMovement.objects.exists()


def test_admin_changes_the_plan_through_the_service(rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(100), started_on=d(2026, 1, 1)
    )
    client = Client()
    client.force_login(rep)

    response = client.post(
        "/admin/crm/subscription/",
        {
            "action": "change_plan",
            "_selected_action": [sub.pk],
            "apply": "1",
            "plan": "Scale",
            "mrr": "180",
            "effective_on": "2026-02-01",
        },
    )

    assert response.status_code == 302
    assert ledger(company)[-1] == (d(2026, 2, 1), "expansion", Decimal(80))
    assert Subscription.objects.get(replaces=sub).mrr == Decimal(180)


def test_admin_form_shows_mrr_and_plan_read_only(rep):
    sub = SubscriptionFactory(company=CompanyFactory(owner=rep))
    client = Client()
    client.force_login(rep)

    page = client.get(f"/admin/crm/subscription/{sub.pk}/change/").content.decode()

    assert 'name="mrr"' not in page
    assert 'name="plan"' not in page


def test_post_mrr_ledger_command_reports_drift_and_posts_both_ledgers(rep):
    company = CompanyFactory(owner=rep)
    Subscription.objects.bulk_create(
        [Subscription(company=company, plan="P", mrr=90, started_on=d(2026, 1, 1))]
    )
    out = io.StringIO()

    with pytest.raises(CommandError, match=r"lacks 1 movement.*ledger 1 change"):
        call_command("post_mrr_ledger", "--check", stdout=out)
    assert not MrrMovement.objects.exists()
    call_command("post_mrr_ledger", stdout=out)
    call_command("post_mrr_ledger", "--check", stdout=out)

    assert out.getvalue().splitlines()[-4:] == [
        "Customer ledger: appended 1 change row(s).",
        "MRR ledger: appended 1 movement row(s).",
        "Customer ledger: would append 0 change row(s).",
        "MRR ledger: would append 0 movement row(s).",
    ]


def test_admin_refuses_moving_the_start_of_a_plan_changes_successor(rep):
    sub = SubscriptionFactory(
        company=CompanyFactory(owner=rep), mrr=Decimal(100), started_on=d(2026, 1, 1)
    )
    successor = services.subscription_change(
        subscription=sub,
        by=rep,
        plan="Scale",
        mrr=Decimal(150),
        effective_on=d(2026, 2, 1),
    )
    client = Client()
    client.force_login(rep)

    page = client.post(
        f"/admin/crm/subscription/{successor.pk}/change/",
        {"started_on": "2026-02-10"},
    )

    assert page.status_code == 200  # the form again, with the error
    assert "continues a plan change" in page.content.decode()
    successor.refresh_from_db()
    assert successor.started_on == d(2026, 2, 1)


def test_admin_moves_a_start_through_the_service(rep):
    company = CompanyFactory(owner=rep)
    sub = SubscriptionFactory(
        company=company, mrr=Decimal(100), started_on=d(2026, 1, 1)
    )
    client = Client()
    client.force_login(rep)

    page = client.post(
        f"/admin/crm/subscription/{sub.pk}/change/", {"started_on": "2026-01-05"}
    )

    assert page.status_code == 302
    # The correction is appended: the ledger now starts on 01-05.
    assert ledger(company) == [(d(2026, 1, 5), "new", Decimal(100))]
