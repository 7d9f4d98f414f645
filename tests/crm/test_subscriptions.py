"""Subscriptions make customers; ending one is an explicit, recorded action."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from crm.models import OutboxEvent, Subscription
from tests.factories import CompanyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_rep_gets_404_for_another_reps_subscription(api_as, rep, other_rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=other_rep))

    client = api_as(rep)
    assert client.get(f"/api/v1/subscriptions/{subscription.pk}/").status_code == 404
    assert (
        client.post(f"/api/v1/subscriptions/{subscription.pk}/end/").status_code == 404
    )


def test_rep_lists_only_subscriptions_of_own_companies(api_as, rep, other_rep):
    mine = SubscriptionFactory(company=CompanyFactory(owner=rep))
    SubscriptionFactory(company=CompanyFactory(owner=other_rep))

    ids = [
        row["id"] for row in api_as(rep).get("/api/v1/subscriptions/").json()["results"]
    ]

    assert ids == [mine.pk]


def test_manager_and_integration_see_their_scope(
    api_as, manager, integration, rep, foreign_rep
):
    SubscriptionFactory(company=CompanyFactory(owner=rep))
    SubscriptionFactory(company=CompanyFactory(owner=foreign_rep))

    assert api_as(manager).get("/api/v1/subscriptions/").json()["count"] == 1
    assert api_as(integration).get("/api/v1/subscriptions/").json()["count"] == 2


def test_billing_sync_records_a_past_subscription_then_ends_it(
    api_as, integration, rep
):
    company = CompanyFactory(owner=rep)
    api = api_as(integration)

    response = api.post(
        "/api/v1/subscriptions/",
        {
            "company": company.pk,
            "plan": "Team",
            "mrr": "199.00",
            "currency": "eur",
            "started_on": "2025-01-01",
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["mrr"] == "199.00"
    assert response.json()["currency"] == "EUR"
    assert response["ETag"] == '"1"'

    ended = api.post(
        f"/api/v1/subscriptions/{response.json()['id']}/end/",
        {"ended_on": "2025-06-30", "reason": "Too expensive"},
        HTTP_IF_MATCH='"1"',
    )
    assert ended.status_code == 200, ended.json()
    assert ended.json()["ended_on"] == "2025-06-30"
    assert ended["ETag"] == '"2"'
    assert OutboxEvent.objects.filter(event_type="subscription.ended").count() == 1


@pytest.mark.parametrize("field", ["ended_on", "churn_reason"])
def test_a_subscription_cannot_be_created_ended(api_as, integration, rep, field):
    # Ending is end/'s job: it records who and when and tells the webhooks.
    response = api_as(integration).post(
        "/api/v1/subscriptions/",
        {
            "company": CompanyFactory(owner=rep).pk,
            "plan": "Team",
            "mrr": "199.00",
            "started_on": "2025-01-01",
            field: "2025-06-30" if field == "ended_on" else "Too expensive",
        },
    )

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == field
    assert "end" in error["detail"]
    assert not Subscription.objects.exists()


def test_subscription_cannot_be_created_ending_before_it_starts(api_as, rep):
    company = CompanyFactory(owner=rep)

    response = api_as(rep).post(
        "/api/v1/subscriptions/",
        {
            "company": company.pk,
            "plan": "Team",
            "mrr": "10",
            "started_on": "2025-02-01",
            "ended_on": "2025-01-01",
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "ended_on"


# 23:30 UTC is already the next day in the CRM's time zone (Europe/Paris).
LATE_EVENING_UTC = datetime.datetime(2026, 3, 10, 23, 30, tzinfo=datetime.UTC)


@time_machine.travel(LATE_EVENING_UTC, tick=False)
def test_end_records_the_day_reason_who_and_when(api_as, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))

    response = api_as(rep).post(
        f"/api/v1/subscriptions/{subscription.pk}/end/",
        {"ended_on": str(timezone.localdate()), "reason": "Missing features"},
    )

    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.ended_on == timezone.localdate()
    assert subscription.churn_reason == "Missing features"
    assert subscription.ended_by == rep
    assert subscription.ended_recorded_at is not None


@time_machine.travel(LATE_EVENING_UTC, tick=False)
def test_end_defaults_to_today_in_the_crms_time_zone(api_as, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))

    api_as(rep).post(f"/api/v1/subscriptions/{subscription.pk}/end/", {})

    subscription.refresh_from_db()
    assert subscription.ended_on == datetime.date(2026, 3, 11)


def test_cannot_end_before_the_start(api_as, rep):
    subscription = SubscriptionFactory(
        company=CompanyFactory(owner=rep), started_on=datetime.date(2026, 3, 1)
    )

    response = api_as(rep).post(
        f"/api/v1/subscriptions/{subscription.pk}/end/", {"ended_on": "2026-02-28"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "ended_on"
    subscription.refresh_from_db()
    assert subscription.ended_on is None


def test_cannot_end_twice(api_as, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))
    client = api_as(rep)
    client.post(f"/api/v1/subscriptions/{subscription.pk}/end/", {})

    response = client.post(f"/api/v1/subscriptions/{subscription.pk}/end/", {})

    # No retry can end it again: a 400 on the field, not a 409.
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "ended_on"


def test_end_date_cannot_be_changed_by_a_plain_update(api_as, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))

    response = api_as(rep).patch(
        f"/api/v1/subscriptions/{subscription.pk}/", {"ended_on": "2030-01-01"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "ended_on"
    subscription.refresh_from_db()
    assert subscription.ended_on is None


def test_bad_end_date_is_a_400(api_as, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))

    response = api_as(rep).post(
        f"/api/v1/subscriptions/{subscription.pk}/end/", {"ended_on": "yesterday"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "ended_on"


def test_rep_cannot_add_a_subscription_to_another_reps_company(api_as, rep, other_rep):
    company = CompanyFactory(owner=other_rep)

    response = api_as(rep).post(
        "/api/v1/subscriptions/",
        {
            "company": company.pk,
            "plan": "Team",
            "mrr": "10",
            "started_on": "2025-02-01",
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "company"
