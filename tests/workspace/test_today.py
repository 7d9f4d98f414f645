import datetime

import pytest
import time_machine
from django.test import Client

from pipeline import services
from pipeline.activities import activity_log
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 18, 10, 0, tzinfo=datetime.UTC)


def test_anonymous_users_go_to_log_in():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_today_lists_new_leads_waiting_for_a_first_response(rep, other_rep, client_for):
    with time_machine.travel(NOW - datetime.timedelta(hours=26), tick=False):
        oldest = LeadFactory(owner=rep, first_name="Oldest", last_name="Wait")
    with time_machine.travel(NOW - datetime.timedelta(hours=3), tick=False):
        newer = LeadFactory(owner=rep, first_name="Newer", last_name="Wait")
        answered = LeadFactory(owner=rep, first_name="Answered")
        activity_log(by=rep, lead=answered, kind="email")
    with time_machine.travel(NOW - datetime.timedelta(hours=2), tick=False):
        # The lead writing in, or a note about it, is not an answer: it waits.
        activity_log(by=rep, lead=newer, kind="email", direction="inbound")
        activity_log(by=rep, lead=newer, kind="note")
        LeadFactory(owner=rep, status="prospect", first_name="Cold")
        LeadFactory(owner=other_rep, first_name="Colleague")
    with time_machine.travel(NOW, tick=False):
        response = client_for(rep).get("/")
    today = response.context["today"]
    assert today.waiting_leads == [oldest, newer]  # the longest wait first
    assert today.waiting_count == 2
    html = response.content.decode()
    assert "waiting <time" in html
    assert "1\xa0day, 2\xa0hours" in html  # 26 hours since it arrived
    assert "Colleague" not in html


def test_today_lists_my_stale_deals_and_deals_closing_this_month(
    rep, other_rep, client_for, make_deal
):
    with time_machine.travel(NOW - datetime.timedelta(days=40), tick=False):
        stale = make_deal(rep, title="Gone quiet")  # prospection: stale after 14 d
        make_deal(other_rep, title="Colleague's quiet deal")
    with time_machine.travel(NOW - datetime.timedelta(days=1), tick=False):
        closing = make_deal(
            rep, title="Signs soon", expected_close_on=datetime.date(2026, 3, 31)
        )
        make_deal(rep, title="Next month", expected_close_on=datetime.date(2026, 4, 1))
        lost = make_deal(
            rep, title="Lost this month", expected_close_on=datetime.date(2026, 3, 20)
        )
        services.deal_lose(deal=lost, by=rep, reason="price")
    with time_machine.travel(NOW, tick=False):
        response = client_for(rep).get("/")
    today = response.context["today"]
    assert today.stale_deals == [stale]
    assert today.closing_deals == [closing]
    assert "March 2026" in response.content.decode()


def test_today_reads_a_bounded_number_of_queries(
    rep, client_for, make_deal, django_assert_max_num_queries
):
    for n in range(5):
        LeadFactory(owner=rep)
        make_deal(rep, title=f"Deal {n}")
    client = client_for(rep)
    # session + user, stage rules, tasks due, their count (which the
    # navigation's badge reuses), waiting leads, their count, stale deals,
    # closing deals -> 9
    with django_assert_max_num_queries(9):
        assert client.get("/").status_code == 200


def test_waiting_leads_past_the_response_target_stand_out(rep, client_for, settings):
    settings.CRM_LEAD_RESPONSE_SLA_MINUTES = 60
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        late = LeadFactory(owner=rep, last_name="Late")
    with time_machine.travel(start + datetime.timedelta(minutes=50), tick=False):
        fresh = LeadFactory(owner=rep, last_name="Fresh")
    with time_machine.travel(start + datetime.timedelta(minutes=70), tick=False):
        html = client_for(rep).get("/").content.decode()
    assert "Target: an answer within 1\xa0hour." in html
    # 70 minutes for the first, 20 for the second, against 60.
    assert html.count("past the response target") == 1
    assert html.index(late.last_name) < html.index("past the response target")
    assert html.index("past the response target") < html.index(fresh.last_name)
