"""Concurrent writes to the address book and subscriptions keep every change
(PostgreSQL only).

Each case ran in several rounds against the old update, which saved every
column as it had read it: one of the two changes was lost in most rounds.
"""

import datetime

import pytest
import time_machine

from crm.models import Company, Contact, OutboxEvent, Subscription
from tests.factories import CompanyFactory, ContactFactory, SubscriptionFactory
from tests.markers import postgres_only
from tests.races import after, api_call, holding_row_lock, run_together

pytestmark = [
    pytest.mark.postgres,
    postgres_only,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _frozen_clock():
    # Records are dated by the services; the races need no real clock.
    with time_machine.travel(
        datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC), tick=False
    ):
        yield


ROUNDS = 4


@pytest.mark.parametrize(
    ("path", "factory", "first", "second"),
    [
        ("companies", CompanyFactory, {"industry": "Energy"}, {"employees": 40}),
        ("contacts", ContactFactory, {"job_title": "CFO"}, {"phone": "+49 30 1"}),
    ],
)
def test_two_patches_of_different_fields_both_survive(
    rep, manager, path, factory, first, second
):
    model = {"companies": Company, "contacts": Contact}[path]
    for _ in range(ROUNDS):
        record = factory(owner=rep)
        url = f"/api/v1/{path}/{record.pk}/"
        statuses = run_together(
            api_call(rep, "patch", url, first),
            api_call(manager, "patch", url, second),
        )
        assert statuses == [200, 200]
        saved = model.objects.filter(pk=record.pk).values(*first, *second).get()
        assert saved == {**first, **second}


def test_end_racing_a_patch_always_leaves_the_subscription_ended(rep):
    for round_ in range(ROUNDS):
        subscription = SubscriptionFactory(
            company=CompanyFactory(owner=rep), started_on=datetime.date(2025, 1, 1)
        )
        started = datetime.date(2025, 2, 1 + round_)
        url = f"/api/v1/subscriptions/{subscription.pk}/"
        # Both requests queue behind a third transaction's lock on the row,
        # so the end and the update's write meet every round.
        statuses = run_together(
            holding_row_lock(subscription),
            after(0.05, api_call(rep, "post", f"{url}end/", {"reason": "Budget cut"})),
            # Plan and MRR change only through change/; the start day is plain data.
            after(0.05, api_call(rep, "patch", url, {"started_on": str(started)})),
        )
        assert statuses == [None, 200, 200]
        subscription.refresh_from_db()
        assert subscription.ended_on == datetime.date(2026, 3, 10)
        assert subscription.churn_reason == "Budget cut"
        assert subscription.started_on == started
    assert OutboxEvent.objects.filter(event_type="subscription.ended").count() == (
        ROUNDS
    )
    assert not Subscription.objects.filter(ended_on__isnull=True).exists()
