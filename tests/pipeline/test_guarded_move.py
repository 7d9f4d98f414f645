"""The stage move's one statement (``pipeline.guarded_move``) keeps the deal
in its caller's scope, whatever form the scope takes."""

import pytest

from crm import policy
from pipeline import services
from pipeline.models import Deal, StageChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_lock_path(monkeypatch):
    """Fail if a move falls back to the locking path: the one statement must
    move the deal by itself."""
    real = services._lock

    def lock(*args, **kwargs):
        raise AssertionError("the guarded statement did not move the deal")

    monkeypatch.setattr(services, "_lock", lock)
    return lambda: monkeypatch.setattr(services, "_lock", real)


def _move(deal, by, scope):
    return services.deal_move(
        deal=Deal(pk=deal.pk), to_stage="qualification", by=by, scope=scope
    )


@pytest.mark.parametrize("who", ["rep", "manager", "admin_user"])
def test_each_roles_scope_lets_its_deals_move(
    who, request, rep, make_deal, no_lock_path
):
    user = request.getfixturevalue(who)
    deal = make_deal(rep)

    moved = _move(deal, user, policy.visible(user, Deal.objects.all()))

    assert (moved.stage, moved.version) == ("qualification", deal.version + 1)
    assert StageChange.objects.filter(deal=deal).count() == 2


def test_a_scope_that_joins_another_table_keeps_its_meaning(
    rep, foreign_rep, team, make_deal, no_lock_path
):
    # ``owner__team`` joins the users' table: the statement keeps the deal in
    # the scope's ids rather than copying a WHERE that names that join.
    ours, theirs = make_deal(rep), make_deal(foreign_rep)
    team_deals = Deal.objects.filter(owner__team=team)

    assert _move(ours, rep, team_deals).stage == "qualification"
    no_lock_path()  # out of scope: the locking path says the deal is missing
    with pytest.raises(Deal.DoesNotExist):
        _move(theirs, rep, team_deals)
    theirs.refresh_from_db()
    assert (theirs.stage, theirs.version) == ("prospection", 1)


def test_an_empty_scope_moves_nothing(rep, make_deal):
    deal = make_deal(rep)

    with pytest.raises(Deal.DoesNotExist):
        _move(deal, rep, Deal.objects.none())
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_an_id_beyond_the_column_is_a_missing_deal(api_as, rep):
    response = api_as(rep).post(
        "/api/v1/deals/99999999999999999999/move/", {"stage": "qualification"}
    )

    assert response.status_code == 404
