import pytest

from pipeline.models import DealStatus

pytestmark = pytest.mark.django_db


def test_board_cards_offer_win_only_in_closing_and_lose_everywhere(
    rep, client_for, make_deal
):
    closing = make_deal(rep, stage="closing", title="Almost there")
    early = make_deal(rep, stage="presentation", title="Early")
    html = client_for(rep).get("/pipeline/").content.decode()
    assert f'action="/deals/{closing.pk}/win/"' in html
    assert f'action="/deals/{early.pk}/win/"' not in html
    assert f'action="/deals/{early.pk}/lose/"' in html


def test_win_and_lose_from_a_card_go_back_to_the_board(rep, client_for, make_deal):
    closing = make_deal(rep, stage="closing", title="Almost there")
    early = make_deal(rep, stage="presentation", title="Early")
    client = client_for(rep)
    won = client.post(
        f"/deals/{closing.pk}/win/", {"version": 1, "next": "/pipeline/?owner="}
    )
    lost = client.post(
        f"/deals/{early.pk}/lose/",
        {"version": 1, "reason": "no_budget", "next": "/pipeline/"},
    )
    assert won["Location"] == "/pipeline/?owner="
    assert lost["Location"] == "/pipeline/"
    closing.refresh_from_db()
    early.refresh_from_db()
    assert closing.status == DealStatus.WON
    assert (early.status, early.lost_reason) == (DealStatus.LOST, "no_budget")


def test_a_refused_card_action_goes_back_to_the_board_with_the_reason(
    rep, client_for, make_deal
):
    deal = make_deal(rep, stage="closing")
    response = client_for(rep).post(
        f"/deals/{deal.pk}/win/", {"version": 7, "next": "/pipeline/"}, follow=True
    )
    assert response.redirect_chain == [("/pipeline/", 302)]
    text = " ".join(str(m) for m in response.context["messages"])
    assert "Someone changed this deal after you opened the page" in text
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN


def test_next_must_stay_on_this_site(rep, client_for, make_deal):
    deal = make_deal(rep, stage="closing")
    response = client_for(rep).post(
        f"/deals/{deal.pk}/win/", {"version": 1, "next": "https://evil.example/"}
    )
    assert response["Location"] == f"/deals/{deal.pk}/"
