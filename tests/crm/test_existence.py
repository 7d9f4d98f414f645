"""Out-of-scope records are answered exactly as if they did not exist: in URLs,
in foreign keys of a body, in filter parameters and in admin URLs."""

import pytest

from crm.models import Role, WebhookEndpoint
from pipeline.services import deal_create
from tests.factories import (
    CompanyFactory,
    LeadFactory,
    SubscriptionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MISSING = 999_999


def _errors(response):
    return response.status_code, response.json()["errors"]


def _same_answer(out_of_scope, missing, real_pk):
    """Assert two answers are identical once the ids they name are swapped."""
    status, errors = _errors(out_of_scope)
    missing_status, missing_errors = _errors(missing)
    assert status == missing_status
    assert [
        {**e, "detail": e["detail"].replace(str(real_pk), "ID")} for e in errors
    ] == [
        {**e, "detail": e["detail"].replace(str(MISSING), "ID")} for e in missing_errors
    ]


def test_activity_on_another_reps_deal_is_refused_like_a_missing_deal(
    api_as, rep, other_rep
):
    theirs = deal_create(by=other_rep, title="Theirs", channel="outbound")
    client = api_as(rep)

    out_of_scope = client.post(
        "/api/v1/activities/", {"kind": "call", "deal": theirs.pk}
    )
    missing = client.post("/api/v1/activities/", {"kind": "call", "deal": MISSING})

    assert out_of_scope.status_code == 400
    assert out_of_scope.json()["errors"][0]["detail"] == (
        f'Invalid pk "{theirs.pk}" - object does not exist.'
    )
    _same_answer(out_of_scope, missing, theirs.pk)


def test_activity_on_another_reps_lead_is_refused_like_a_missing_lead(
    api_as, rep, foreign_rep
):
    theirs = LeadFactory(owner=foreign_rep)
    client = api_as(rep)

    out_of_scope = client.post(
        "/api/v1/activities/", {"kind": "call", "lead": theirs.pk}
    )
    missing = client.post("/api/v1/activities/", {"kind": "call", "lead": MISSING})

    _same_answer(out_of_scope, missing, theirs.pk)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/activities/", "lead"),
        ("/api/v1/activities/", "deal"),
        ("/api/v1/activities/", "owner"),
        ("/api/v1/deals/", "owner"),
        ("/api/v1/leads/", "owner"),
        ("/api/v1/metrics/targets/", "owner"),
    ],
)
def test_filters_answer_an_out_of_scope_id_like_a_missing_one(
    api_as, rep, other_rep, path, parameter
):
    theirs = {
        "lead": lambda: LeadFactory(owner=other_rep).pk,
        "deal": lambda: deal_create(by=other_rep, title="T", channel="outbound").pk,
        "owner": lambda: other_rep.pk,
    }[parameter]()
    client = api_as(rep)

    out_of_scope = client.get(path, {parameter: theirs})
    missing = client.get(path, {parameter: MISSING})

    assert out_of_scope.status_code == 400
    _same_answer(out_of_scope, missing, theirs)


def test_the_customer_filter_counts_only_the_callers_subscriptions(
    api_as, rep, foreign_rep
):
    mine = CompanyFactory(owner=rep)
    theirs = CompanyFactory(owner=foreign_rep)
    SubscriptionFactory(company=mine)
    SubscriptionFactory(company=theirs)
    client = api_as(rep)

    customers = client.get("/api/v1/companies/", {"is_customer": "true"}).json()
    others = client.get("/api/v1/companies/", {"is_customer": "false"}).json()

    assert [c["id"] for c in customers["results"]] == [mine.pk]
    assert [c["id"] for c in others["results"]] == [theirs.pk]


def test_admin_url_of_another_reps_lead_answers_like_a_missing_one(
    client, rep, other_rep
):
    theirs = LeadFactory(owner=other_rep)
    client.force_login(rep)

    out_of_scope = client.get(f"/admin/leads/lead/{theirs.pk}/change/", follow=True)
    missing = client.get(f"/admin/leads/lead/{MISSING}/change/", follow=True)

    assert out_of_scope.redirect_chain == missing.redirect_chain == [("/admin/", 302)]
    assert [
        str(m).replace(str(theirs.pk), "ID") for m in out_of_scope.context["messages"]
    ] == [str(m).replace(str(MISSING), "ID") for m in missing.context["messages"]]


def test_deals_owner_filter_lists_only_users_the_viewer_sees(
    client, rep, other_rep, manager, foreign_rep
):
    def owner_choices(user):
        client.force_login(user)
        response = client.get("/admin/pipeline/deal/")
        return [
            label
            for spec in response.context["cl"].filter_specs
            if spec.title == "owner"
            for _, label in spec.lookup_choices
        ]

    # A rep sees only her own deals: no choice to make, so no filter.
    assert owner_choices(rep) == []
    assert sorted(owner_choices(manager)) == sorted(
        [str(manager), str(rep), str(other_rep)]
    )


def test_owner_autocomplete_offers_only_assignable_users(
    client, rep, other_rep, manager
):
    client.force_login(manager)

    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "crm", "model_name": "company", "field_name": "owner"},
    )

    assert response.status_code == 200
    assert {row["text"] for row in response.json()["results"]} == {
        str(rep),
        str(other_rep),
        str(manager),
    }


def test_an_integration_manages_only_its_own_webhook_endpoints(api_as, integration):
    other = UserFactory(username="other_integration", role=Role.INTEGRATION)
    theirs = WebhookEndpoint.objects.create(
        url="https://hooks.example/a", secret="s" * 32, events=[], created_by=other
    )
    client = api_as(integration)

    listed = client.get("/api/v1/webhooks/").json()
    detail = client.get(f"/api/v1/webhooks/{theirs.pk}/")
    missing = client.get(f"/api/v1/webhooks/{MISSING}/")

    assert listed["count"] == 0
    assert detail.status_code == missing.status_code == 404
    assert detail.json() == missing.json()
