import pytest
from django.core.exceptions import ValidationError

from crm.errors import Conflict, StaleVersion
from pipeline import services
from pipeline.models import ALLOWED_MOVES, STAGE_ORDER, StageChange

pytestmark = pytest.mark.django_db


def history(deal):
    return list(
        StageChange.objects.filter(deal=deal)
        .order_by("pk")
        .values_list("from_stage", "to_stage", "from_status", "to_status")
    )


def test_create_records_the_first_history_row(rep, make_deal):
    deal = make_deal(rep, stage="qualification")
    assert deal.version == 1
    assert history(deal) == [("", "qualification", "", "open")]
    assert StageChange.objects.get(deal=deal).changed_by == rep


@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [(a.value, b.value) for a in STAGE_ORDER for b in ALLOWED_MOVES[a]],
)
def test_open_deal_moves_forward_or_back_to_any_other_stage(
    rep, make_deal, from_stage, to_stage
):
    deal = make_deal(rep, stage=from_stage)
    entered = deal.stage_entered_at
    deal = services.deal_move(deal=deal, to_stage=to_stage, by=rep)
    assert (deal.stage, deal.status, deal.version) == (to_stage, "open", 2)
    assert deal.stage_entered_at > entered
    assert history(deal)[-1] == (from_stage, to_stage, "open", "open")


def test_move_to_the_current_stage_is_a_field_error(rep, make_deal):
    # No retry can make this move, so it is a 400 on "stage", not a 409.
    deal = make_deal(rep, stage="presentation")
    with pytest.raises(ValidationError) as exc:
        services.deal_move(deal=deal, to_stage="presentation", by=rep)
    assert exc.value.message_dict == {
        "stage": ["This deal is already in Product presentation."]
    }
    assert len(history(deal)) == 1


def test_move_to_an_unknown_stage_is_a_field_error(rep, make_deal):
    deal = make_deal(rep)
    with pytest.raises(ValidationError) as exc:
        services.deal_move(deal=deal, to_stage="won", by=rep)
    assert "stage" in exc.value.message_dict


def test_win_only_from_closing(rep, make_deal):
    deal = make_deal(rep, stage="closing")
    deal = services.deal_win(deal=deal, by=rep)
    assert deal.status == "won"
    assert deal.closed_at is not None
    assert history(deal)[-1] == ("closing", "closing", "open", "won")


@pytest.mark.parametrize(
    "stage", ["prospection", "qualification", "presentation", "consideration"]
)
def test_win_from_another_stage_is_refused(rep, make_deal, stage):
    deal = make_deal(rep, stage=stage)
    with pytest.raises(Conflict):
        services.deal_win(deal=deal, by=rep)
    deal.refresh_from_db()
    assert (deal.status, deal.version, len(history(deal))) == ("open", 1, 1)


@pytest.mark.parametrize("stage", [s.value for s in STAGE_ORDER])
def test_lose_from_any_open_stage(rep, make_deal, stage):
    deal = make_deal(rep, stage=stage)
    deal = services.deal_lose(deal=deal, by=rep, reason="price", notes="Too dear")
    assert (deal.status, deal.lost_reason, deal.lost_notes) == (
        "lost",
        "price",
        "Too dear",
    )
    assert deal.closed_at is not None
    assert history(deal)[-1] == (stage, stage, "open", "lost")


def test_lose_needs_a_known_reason_and_notes_for_other(rep, make_deal):
    deal = make_deal(rep)
    with pytest.raises(ValidationError) as exc:
        services.deal_lose(deal=deal, by=rep, reason="bored")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.deal_lose(deal=deal, by=rep, reason="other", notes=" ")
    assert "notes" in exc.value.message_dict


@pytest.mark.parametrize("close", ["win", "lose"])
def test_closed_deal_cannot_move_win_or_lose_again(rep, make_deal, close):
    deal = make_deal(rep, stage="closing")
    if close == "win":
        deal = services.deal_win(deal=deal, by=rep)
    else:
        deal = services.deal_lose(deal=deal, by=rep, reason="timing")
    with pytest.raises(Conflict):
        services.deal_move(deal=deal, to_stage="presentation", by=rep)
    with pytest.raises(Conflict):
        services.deal_win(deal=deal, by=rep)
    with pytest.raises(Conflict):
        services.deal_lose(deal=deal, by=rep, reason="price")
    assert len(history(deal)) == 2


def test_reopen_a_lost_deal_into_a_stage(rep, make_deal):
    deal = make_deal(rep, stage="consideration")
    deal = services.deal_lose(deal=deal, by=rep, reason="no_budget")
    deal = services.deal_reopen(deal=deal, by=rep, stage="qualification")
    assert (deal.stage, deal.status, deal.closed_at, deal.lost_reason) == (
        "qualification",
        "open",
        None,
        "",
    )
    assert history(deal)[-1] == ("consideration", "qualification", "lost", "open")


def test_reopen_a_won_deal_defaults_to_its_closing_stage(rep, make_deal):
    deal = services.deal_win(deal=make_deal(rep, stage="closing"), by=rep)
    deal = services.deal_reopen(deal=deal, by=rep)
    assert (deal.stage, deal.status) == ("closing", "open")
    assert history(deal)[-1] == ("closing", "closing", "won", "open")


def test_reopen_an_open_deal_is_refused(rep, make_deal):
    deal = make_deal(rep)
    with pytest.raises(Conflict):
        services.deal_reopen(deal=deal, by=rep, stage="closing")


def test_every_action_bumps_the_version_and_appends_one_row(rep, make_deal):
    deal = make_deal(rep)
    deal = services.deal_move(deal=deal, to_stage="closing", by=rep)
    deal = services.deal_win(deal=deal, by=rep)
    deal = services.deal_reopen(deal=deal, by=rep, stage="consideration")
    deal = services.deal_lose(deal=deal, by=rep, reason="competitor")
    assert deal.version == 5
    assert history(deal) == [
        ("", "prospection", "", "open"),
        ("prospection", "closing", "open", "open"),
        ("closing", "closing", "open", "won"),
        ("closing", "consideration", "won", "open"),
        ("consideration", "consideration", "open", "lost"),
    ]


def test_stale_expected_version_is_refused_with_the_current_deal(rep, make_deal):
    deal = make_deal(rep)
    services.deal_move(deal=deal, to_stage="qualification", by=rep)
    with pytest.raises(StaleVersion) as exc:
        services.deal_move(
            deal=deal, to_stage="presentation", by=rep, expected_version=1
        )
    assert exc.value.current.version == 2
    assert len(history(deal)) == 2


def test_update_cannot_touch_stage_or_status(rep, make_deal):
    deal = make_deal(rep)
    with pytest.raises(ValidationError) as exc:
        services.deal_update(deal=deal, by=rep, stage="closing")
    assert "stage" in exc.value.message_dict


def test_negative_amount_is_a_field_error(rep, make_deal):
    with pytest.raises(ValidationError) as exc:
        make_deal(rep, amount="-1")
    assert "amount" in exc.value.message_dict


def test_rep_cannot_create_a_deal_for_another_rep(rep, other_rep, make_deal):
    with pytest.raises(ValidationError) as exc:
        services.deal_create(
            by=rep, owner=other_rep, title="x", channel="inbound", amount=1
        )
    assert "owner" in exc.value.message_dict


def test_integration_must_name_the_owner(integration, rep):
    with pytest.raises(ValidationError) as exc:
        services.deal_create(by=integration, title="x", channel="inbound")
    assert "owner" in exc.value.message_dict
    deal = services.deal_create(by=integration, owner=rep, title="x", channel="inbound")
    assert deal.owner == rep
