"""Reps and managers use the admin under the same visibility rule as the API."""

import pytest

from crm.models import Subscription
from tests.factories import CompanyFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_rep_gets_403_changing_another_reps_company_in_the_admin(
    client, rep, other_rep
):
    company = CompanyFactory(owner=other_rep, name="Theirs")
    client.force_login(rep)

    response = client.post(
        f"/admin/crm/company/{company.pk}/change/",
        {"name": "Mine", "domain": "", "owner": rep.pk},
    )

    assert response.status_code == 403
    company.refresh_from_db()
    assert company.name == "Theirs"


def test_rep_may_view_another_reps_company_read_only(client, rep, other_rep):
    company = CompanyFactory(owner=other_rep)
    client.force_login(rep)

    response = client.get(f"/admin/crm/company/{company.pk}/change/")

    assert response.status_code == 200
    assert b'name="_save"' not in response.content


def test_rep_changes_own_company_in_the_admin(client, rep):
    company = CompanyFactory(owner=rep)
    client.force_login(rep)

    response = client.post(
        f"/admin/crm/company/{company.pk}/change/",
        {
            "name": "Renamed",
            "domain": company.domain,
            "owner": rep.pk,
            "industry": "",
            "employees": "",
            "country": "",
        },
    )

    assert response.status_code == 302
    company.refresh_from_db()
    assert company.name == "Renamed"


def test_admin_subscription_list_shows_only_own_scope(client, rep, other_rep):
    mine = SubscriptionFactory(company=CompanyFactory(owner=rep, name="Mine Inc"))
    theirs = SubscriptionFactory(
        company=CompanyFactory(owner=other_rep, name="Theirs Inc")
    )
    client.force_login(rep)

    response = client.get("/admin/crm/subscription/")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]
    detail = client.get(f"/admin/crm/subscription/{theirs.pk}/change/")
    assert detail.status_code == 302  # "doesn't exist", back to the admin index


def test_manager_sees_the_subscriptions_of_their_team(
    client, manager, rep, foreign_rep
):
    SubscriptionFactory(company=CompanyFactory(owner=rep))
    SubscriptionFactory(company=CompanyFactory(owner=foreign_rep))
    client.force_login(manager)

    response = client.get("/admin/crm/subscription/")

    assert response.context["cl"].result_count == 1


def test_admin_changelist_runs_no_query_per_row(
    client, rep, django_assert_max_num_queries
):
    for _ in range(20):
        SubscriptionFactory(company=CompanyFactory(owner=rep))
    client.force_login(rep)

    # session, user, count, filtered count, rows with company joined, date
    # hierarchy, plus a few fixed admin queries: never one per row.
    with django_assert_max_num_queries(12):
        assert client.get("/admin/crm/subscription/").status_code == 200


def test_end_subscription_admin_action_records_the_end(client, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))
    client.force_login(rep)

    client.post(
        "/admin/crm/subscription/",
        {"action": "end_today", "_selected_action": [subscription.pk]},
    )

    subscription.refresh_from_db()
    assert subscription.ended_on is not None
    assert subscription.ended_by == rep


def test_ending_an_ended_subscription_is_an_error_without_success(client, rep):
    subscription = SubscriptionFactory(company=CompanyFactory(owner=rep))
    client.force_login(rep)
    end = {"action": "end_today", "_selected_action": [subscription.pk]}
    client.post("/admin/crm/subscription/", end, follow=True)

    response = client.post("/admin/crm/subscription/", end, follow=True)

    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert [level for level, _ in messages] == ["error"]
    assert "already ended" in messages[0][1]


def test_a_subscription_is_not_added_ended_in_the_admin(client, rep):
    company = CompanyFactory(owner=rep)
    client.force_login(rep)

    form = client.get("/admin/crm/subscription/add/").context["adminform"].form

    assert "ended_on" not in form.fields
    assert "churn_reason" not in form.fields
    response = client.post(
        "/admin/crm/subscription/add/",
        {
            "company": company.pk,
            "plan": "Team",
            "mrr": "10",
            "currency": "EUR",
            "started_on": "2025-01-01",
            "ended_on": "2025-02-01",
        },
    )
    assert response.status_code == 302
    assert Subscription.objects.get().ended_on is None
