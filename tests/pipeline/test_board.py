import datetime

import pytest
from django.test import Client
from django.utils import timezone

from pipeline import services
from pipeline.models import Deal, StageChange
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def column(response, stage):
    return next(c for c in response.context["columns"] if c.stage == stage)


def test_board_requires_login():
    response = Client().get("/pipeline/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_rep_sees_own_open_deals_in_five_columns_with_totals(rep, other_rep, make_deal):
    make_deal(rep, stage="closing", amount="1000", title="Alpha")  # weighted 800
    make_deal(rep, stage="closing", amount="500", probability=50, title="Beta")  # 250
    make_deal(rep, stage="closing", amount="100", currency="USD", title="Gamma")  # 80
    lost = make_deal(rep, title="Lost one")
    services.deal_lose(deal=lost, by=rep, reason="price")
    make_deal(other_rep, title="Not mine")

    response = client_for(rep).get("/pipeline/")
    assert response.status_code == 200
    columns = response.context["columns"]
    assert [c.stage.value for c in columns] == [
        "prospection",
        "qualification",
        "presentation",
        "consideration",
        "closing",
    ]
    closing = column(response, "closing")
    assert closing.count == 3
    amount, weighted = closing.totals["EUR"]
    assert (amount, weighted) == (1500, 1050)  # 1000 + 500; 800 + 250
    assert closing.totals["USD"][1] == 80
    assert column(response, "prospection").count == 0
    html = response.content.decode()
    assert "Alpha" in html
    assert "Not mine" not in html
    assert "Lost one" not in html
    assert 'id="owner-picker"' not in html  # a rep has no picker


def test_stale_deals_are_marked(rep, make_deal):
    deal = make_deal(rep, title="Rotting")
    Deal.objects.filter(pk=deal.pk).update(
        stage_entered_at=timezone.now() - datetime.timedelta(days=60)
    )
    html = client_for(rep).get("/pipeline/").content.decode()
    assert 'class="card stale"' in html
    assert ">Stale<" in html


def test_manager_switches_between_reps(manager, rep, other_rep, foreign_rep, make_deal):
    make_deal(rep, title="Rep deal")
    make_deal(other_rep, title="Other deal")
    make_deal(foreign_rep, title="Foreign deal")
    client = client_for(manager)

    everyone = client.get("/pipeline/").content.decode()
    assert "Rep deal" in everyone
    assert "Other deal" in everyone
    assert "Foreign deal" not in everyone
    assert 'id="owner-picker"' in everyone

    only_rep = client.get("/pipeline/", {"owner": rep.pk})
    assert only_rep.context["owner"] == rep
    html = only_rep.content.decode()
    assert "Rep deal" in html
    assert "Other deal" not in html
    # A rep of another team is not on the manager's picker.
    assert client.get("/pipeline/", {"owner": foreign_rep.pk}).status_code == 404


def test_rep_cannot_open_another_reps_board(rep, other_rep):
    assert client_for(rep).get("/pipeline/", {"owner": other_rep.pk}).status_code == 404


def test_board_query_count_is_constant(
    manager, rep, other_rep, django_assert_max_num_queries
):
    DealFactory.create_batch(40, owner=rep)
    DealFactory.create_batch(40, owner=other_rep, stage="closing")
    client = client_for(manager)
    # session, user, stage settings, grouped totals, cards (+ picker, messages)
    with django_assert_max_num_queries(7):
        response = client.get("/pipeline/")
    assert column(response, "closing").count == 40


def test_move_form_moves_the_deal_through_the_service(rep, make_deal):
    deal = make_deal(rep)
    client = Client(enforce_csrf_checks=False)
    client.force_login(rep)
    response = client.post(
        f"/pipeline/deals/{deal.pk}/move/",
        {"stage": "consideration", "version": 1},
        follow=True,
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.stage, deal.version) == ("consideration", 2)
    assert StageChange.objects.filter(deal=deal).count() == 2
    assert "moved to Consideration" in response.content.decode()


def test_move_form_with_a_stale_version_shows_an_error(rep, make_deal):
    deal = make_deal(rep)
    services.deal_move(deal=deal, to_stage="qualification", by=rep)
    response = client_for(rep).post(
        f"/pipeline/deals/{deal.pk}/move/",
        {"stage": "closing", "version": 1},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("someone changed it after this board was loaded" in m for m in messages)
    deal.refresh_from_db()
    assert deal.stage == "qualification"


def test_move_form_is_csrf_protected(rep, make_deal):
    deal = make_deal(rep)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    response = client.post(
        f"/pipeline/deals/{deal.pk}/move/", {"stage": "closing", "version": 1}
    )
    assert response.status_code == 403


def test_rep_cannot_move_another_reps_deal_from_the_board(rep, other_rep, make_deal):
    deal = make_deal(other_rep)
    response = client_for(rep).post(
        f"/pipeline/deals/{deal.pk}/move/", {"stage": "closing", "version": 1}
    )
    assert response.status_code == 404


def test_move_redirect_ignores_foreign_next_urls(rep, make_deal):
    deal = make_deal(rep)
    response = client_for(rep).post(
        f"/pipeline/deals/{deal.pk}/move/",
        {"stage": "closing", "version": 1, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/pipeline/"


def test_a_malformed_owner_is_a_404_not_a_500(client, manager):
    client.force_login(manager)

    assert client.get("/pipeline/?owner=abc").status_code == 404


def test_the_move_form_offers_the_next_stage_first(client, rep, make_deal):
    deal = make_deal(rep, stage="presentation")
    client.force_login(rep)

    html = client.get("/pipeline/").content.decode()

    assert f'id="move-{deal.pk}"' in html
    assert '<option value="consideration" selected>' in html
