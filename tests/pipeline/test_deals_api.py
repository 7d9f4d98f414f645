import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from pipeline import services
from pipeline.models import Deal, StageChange
from tests.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.django_db

DEAL_FIELDS = {
    "id",
    "title",
    "owner",
    "company",
    "contact",
    "lead",
    "channel",
    "amount",
    "currency",
    "probability",
    "expected_close_on",
    "stage",
    "status",
    "lost_reason",
    "closed_at",
    "stage_entered_at",
    "is_stale",
    "version",
    "created_at",
    "updated_at",
}


def url(deal=None, action=None):
    if deal is None:
        return "/api/v1/deals/"
    return f"/api/v1/deals/{deal.pk}/" + (f"{action}/" if action else "")


def test_deal_has_the_contract_fields(api_as, rep, make_deal):
    deal = make_deal(rep)
    response = api_as(rep).get(url(deal))
    assert response.status_code == 200
    assert set(response.json()) == DEAL_FIELDS
    assert response.json()["amount"] == "1000.00"
    assert response["ETag"] == '"1"'


def test_rep_creating_a_deal_owns_it_and_history_starts(api_as, rep):
    response = api_as(rep).post(
        url(), {"title": "Big one", "channel": "inbound", "amount": "250.50"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["owner"], body["stage"], body["status"], body["version"]) == (
        rep.pk,
        "prospection",
        "open",
        1,
    )
    assert StageChange.objects.filter(deal_id=body["id"]).count() == 1


def test_rep_cannot_create_a_deal_for_another_rep(api_as, rep, other_rep):
    response = api_as(rep).post(
        url(),
        {"title": "x", "channel": "inbound", "amount": "1", "owner": other_rep.pk},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "owner"


def test_manager_creates_a_deal_for_a_rep_of_the_team(api_as, manager, rep):
    response = api_as(manager).post(
        url(), {"title": "x", "channel": "inbound", "amount": "1", "owner": rep.pk}
    )
    assert response.status_code == 201
    assert response.json()["owner"] == rep.pk


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"title": "x", "channel": "inbound", "amount": "-5"}, "amount"),
        ({"title": "x", "channel": "sideways", "amount": "5"}, "channel"),
        ({"title": "x", "channel": "inbound", "amount": "5", "stage": "won"}, "stage"),
        (
            {"title": "x", "channel": "inbound", "amount": "5", "currency": "E1"},
            "currency",
        ),
        (
            {"title": "x", "channel": "inbound", "amount": "5", "probability": 101},
            "probability",
        ),
    ],
)
def test_bad_input_on_create_is_a_400_with_a_field_message(api_as, rep, payload, attr):
    response = api_as(rep).post(url(), payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr
    assert response.json()["errors"][0]["detail"]


def test_stage_and_status_are_read_only_in_plain_updates(api_as, rep, make_deal):
    deal = make_deal(rep)
    response = api_as(rep).patch(
        url(deal), {"stage": "closing", "status": "won", "version": 9, "title": "New"}
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.stage, deal.status, deal.title, deal.version) == (
        "prospection",
        "open",
        "New",
        2,
    )
    assert response["ETag"] == '"2"'


def test_patch_negative_amount_is_400(api_as, rep, make_deal):
    deal = make_deal(rep)
    response = api_as(rep).patch(url(deal), {"amount": "-1.00"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "amount"


def test_move_win_lose_reopen_through_the_api(api_as, rep, make_deal):
    deal = make_deal(rep)
    api = api_as(rep)
    assert api.post(url(deal, "move"), {"stage": "closing"}).status_code == 200
    response = api.post(url(deal, "win"))
    assert response.status_code == 200
    assert response.json()["status"] == "won"
    assert response["ETag"] == '"3"'
    response = api.post(url(deal, "reopen"), {"stage": "consideration"})
    assert response.json()["stage"] == "consideration"
    response = api.post(url(deal, "lose"), {"reason": "price", "notes": "Budget cut"})
    assert (response.json()["status"], response.json()["lost_reason"]) == (
        "lost",
        "price",
    )

    history = api.get(url(deal, "history")).json()["results"]
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        ("consideration", "consideration"),
        ("closing", "consideration"),
        ("closing", "closing"),
        ("prospection", "closing"),
        ("", "prospection"),
    ]
    assert history[0] == history[0] | {
        "from_status": "open",
        "to_status": "lost",
        "by": rep.pk,
    }
    assert set(history[0]) == {
        "from_stage",
        "to_stage",
        "from_status",
        "to_status",
        "by",
        "at",
    }


def test_move_to_an_unknown_stage_is_400(api_as, rep, make_deal):
    response = api_as(rep).post(url(make_deal(rep), "move"), {"stage": "heaven"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "stage"


def test_win_from_presentation_is_refused_with_a_message(api_as, rep, make_deal):
    deal = make_deal(rep, stage="presentation")
    response = api_as(rep).post(url(deal, "win"))
    assert response.status_code == 409
    assert "Closing" in response.json()["errors"][0]["detail"]
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_lose_without_a_reason_is_400(api_as, rep, make_deal):
    response = api_as(rep).post(url(make_deal(rep), "lose"), {})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "reason"


@pytest.mark.parametrize("status", ["won", "lost"])
@pytest.mark.parametrize(("field", "value"), [("amount", "1.00"), ("currency", "USD")])
def test_a_closed_deals_value_changes_only_by_reopening_it(
    api_as, rep, make_deal, status, field, value
):
    deal = make_deal(rep, stage="closing", amount="5000.00", currency="EUR")
    if status == "won":
        services.deal_win(deal=deal, by=rep)
    else:
        services.deal_lose(deal=deal, by=rep, reason="price")
    api = api_as(rep)

    response = api.patch(url(deal), {field: value})

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == field
    assert "reopening" in error["detail"]
    deal.refresh_from_db()
    assert (deal.amount, deal.currency) == (Decimal("5000.00"), "EUR")
    # the same value (a client sending the deal back as read) is no change
    assert api.patch(url(deal), {"amount": "5000.00"}).status_code == 200
    # a plain field still changes, and reopening frees the value
    assert api.patch(url(deal), {"title": "Renamed"}).status_code == 200
    services.deal_reopen(deal=deal, by=rep)
    assert api.patch(url(deal), {field: value}).status_code == 200


@pytest.mark.parametrize("side", ["contact", "company"])
def test_patching_one_side_of_contact_and_company_checks_the_pair(
    api_as, rep, make_deal, side
):
    initech, globex = CompanyFactory(owner=rep), CompanyFactory(owner=rep)
    deal = make_deal(
        rep, company=initech, contact=ContactFactory(owner=rep, company=initech)
    )
    stranger = ContactFactory(owner=rep, company=globex)
    body = {"contact": stranger.pk} if side == "contact" else {"company": globex.pk}

    response = api_as(rep).patch(url(deal), body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "contact"
    deal.refresh_from_db()
    assert (deal.company_id, deal.contact.company_id) == (initech.pk, initech.pk)


def test_moving_a_closed_deal_is_409(api_as, rep, make_deal):
    deal = services.deal_lose(deal=make_deal(rep), by=rep, reason="price")
    response = api_as(rep).post(url(deal, "move"), {"stage": "closing"})
    assert response.status_code == 409


# --- visibility ---------------------------------------------------------------


def test_rep_cannot_see_or_move_another_reps_deal(api_as, rep, other_rep, make_deal):
    deal = make_deal(other_rep)
    api = api_as(rep)
    assert api.get(url(deal)).status_code == 404
    assert api.post(url(deal, "move"), {"stage": "closing"}).status_code == 404
    assert api.patch(url(deal), {"title": "mine"}).status_code == 404
    assert api.get(url(deal, "history")).status_code == 404
    assert api.get(url()).json()["count"] == 0
    deal.refresh_from_db()
    assert deal.version == 1


def test_manager_sees_the_teams_deals_only(
    api_as, manager, rep, other_rep, foreign_rep, make_deal
):
    mine, theirs = make_deal(rep), make_deal(other_rep)
    foreign = make_deal(foreign_rep)
    ids = {d["id"] for d in api_as(manager).get(url()).json()["results"]}
    assert ids == {mine.pk, theirs.pk}
    assert api_as(manager).get(url(foreign)).status_code == 404
    response = api_as(manager).post(url(mine, "move"), {"stage": "qualification"})
    assert response.status_code == 200


def test_integration_sees_every_deal(api_as, integration, rep, foreign_rep, make_deal):
    make_deal(rep), make_deal(foreign_rep)
    assert api_as(integration).get(url()).json()["count"] == 2


def test_anonymous_gets_no_deals(anon_api, rep, make_deal):
    assert anon_api.get(url()).status_code in (401, 403)


# --- ETag / If-Match ----------------------------------------------------------


@pytest.mark.parametrize("header", ['"1"', "1", '"7", "1"', "*"])
def test_if_match_with_the_current_version_succeeds(api_as, rep, make_deal, header):
    deal = make_deal(rep)
    response = api_as(rep).post(
        url(deal, "move"), {"stage": "qualification"}, HTTP_IF_MATCH=header
    )
    assert response.status_code == 200
    assert response["ETag"] == '"2"'


def test_stale_if_match_is_412_with_the_current_deal(api_as, rep, make_deal):
    deal = make_deal(rep)
    services.deal_move(deal=deal, to_stage="qualification", by=rep)
    api = api_as(rep)
    for method, path, body in [
        ("post", url(deal, "move"), {"stage": "closing"}),
        ("post", url(deal, "win"), {}),
        ("post", url(deal, "lose"), {"reason": "price"}),
        ("patch", url(deal), {"title": "x"}),
        ("put", url(deal), {"title": "x", "channel": "inbound", "amount": "1"}),
    ]:
        response = getattr(api, method)(path, body, HTTP_IF_MATCH='"1"')
        assert response.status_code == 412, (method, path)
        body = response.json()
        assert body["errors"][0]["code"] == "stale_version"
        assert body["current"]["version"] == 2
        assert body["current"]["stage"] == "qualification"
        assert response["ETag"] == '"2"'
    assert StageChange.objects.filter(deal=deal).count() == 2


@pytest.mark.parametrize("header", ['W/"1"', '"2"', '"abc"', '"2", W/"1"'])
def test_valid_if_match_naming_no_strong_current_version_is_412(
    api_as, rep, make_deal, header
):
    # RFC 9110 13.1.1: If-Match compares strongly, so a weak tag never
    # matches; a well-formed tag that does not match is a 412, never a 400.
    deal = make_deal(rep)
    response = api_as(rep).post(
        url(deal, "move"), {"stage": "qualification"}, HTTP_IF_MATCH=header
    )
    assert response.status_code == 412
    assert response.json()["current"]["version"] == 1
    assert response["ETag"] == '"1"'
    deal.refresh_from_db()
    assert deal.stage == "prospection"


def test_malformed_if_match_is_400(api_as, rep, make_deal):
    response = api_as(rep).post(
        url(make_deal(rep), "move"), {"stage": "closing"}, HTTP_IF_MATCH="abc"
    )
    assert response.status_code == 400


# --- filters, search and query counts -----------------------------------------


@time_machine.travel(
    datetime.datetime(2026, 3, 10, 23, 30, tzinfo=datetime.UTC), tick=False
)
def test_filters_on_stage_status_owner_team_amount_and_close_date(
    api_as, manager, rep, other_rep, make_deal
):
    today = timezone.localdate()
    a = make_deal(rep, stage="closing", amount="5000", expected_close_on=today)
    b = make_deal(other_rep, amount="10", channel="inbound")
    services.deal_lose(deal=b, by=other_rep, reason="price")
    api = api_as(manager)

    def ids(**params):
        return {d["id"] for d in api.get(url(), params).json()["results"]}

    assert ids(stage="closing") == {a.pk}
    assert ids(status="lost") == {b.pk}
    assert ids(owner=rep.pk) == {a.pk}
    assert ids(team=rep.team_id) == {a.pk, b.pk}
    assert ids(channel="inbound") == {b.pk}
    assert ids(amount_min="100") == {a.pk}
    assert ids(amount_max="100") == {b.pk}
    week = today + datetime.timedelta(days=7)
    assert ids(expected_close_after=today.isoformat(), expected_close_before=week) == {
        a.pk
    }


def test_search_on_title_and_company_name(api_as, rep, make_deal):
    company = CompanyFactory(name="Globex Corporation", owner=rep)
    a = make_deal(rep, title="Renewal", company=company)
    make_deal(rep, title="Something else")
    api = api_as(rep)
    assert [
        d["id"] for d in api.get(url(), {"search": "globex"}).json()["results"]
    ] == [a.pk]
    assert api.get(url(), {"search": "renew"}).json()["count"] == 1


def test_stale_filter_and_flag(api_as, rep, make_deal):
    fresh = make_deal(rep)
    old = make_deal(rep)
    Deal.objects.filter(pk=old.pk).update(
        stage_entered_at=timezone.now() - datetime.timedelta(days=30)
    )
    api = api_as(rep)
    assert [d["id"] for d in api.get(url(), {"stale": "true"}).json()["results"]] == [
        old.pk
    ]
    assert [d["id"] for d in api.get(url(), {"stale": "false"}).json()["results"]] == [
        fresh.pk
    ]
    assert api.get(url(old)).json()["is_stale"] is True


@pytest.mark.parametrize("page_size", [10, 100])
def test_list_query_count_is_constant_whatever_the_page_size(
    api_as, manager, rep, other_rep, django_assert_max_num_queries, page_size
):
    company = CompanyFactory(owner=rep)
    DealFactory.create_batch(60, owner=rep, company=company)
    DealFactory.create_batch(60, owner=other_rep, stage="closing")
    api = api_as(manager)
    # 1 stage settings (staleness limits), 1 COUNT for the paginator, 1 page.
    with django_assert_max_num_queries(3):
        response = api.get(url(), {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size


def test_ordering_by_amount(api_as, rep, make_deal):
    (
        make_deal(rep, amount="5"),
        make_deal(rep, amount="500"),
        make_deal(rep, amount="50"),
    )
    amounts = [
        d["amount"]
        for d in api_as(rep).get(url(), {"ordering": "-amount"}).json()["results"]
    ]
    assert amounts == ["500.00", "50.00", "5.00"]


def test_deals_cannot_be_deleted(api_as, admin_user, rep, make_deal):
    assert api_as(admin_user).delete(url(make_deal(rep))).status_code == 405
