"""The KPI dashboard page in the admin: same numbers, charts, visibility."""

import pytest

from metrics.models import KpiTarget
from tests.metrics.datasets import Q1, build_customers, build_deals, build_leads

pytestmark = pytest.mark.django_db

URL = "/admin/metrics/dashboard/"
Q1_PARAMS = {"start": "2026-01-01", "end": "2026-03-31"}


@pytest.fixture
def crm(rep, other_rep, foreign_rep):
    build_customers(rep, foreign_rep)
    build_leads(rep, foreign_rep)
    build_deals(rep, foreign_rep)


def test_admin_index_links_to_the_dashboard(rep, client):
    client.force_login(rep)

    page = client.get("/admin/")

    assert URL in page.content.decode()


def test_dashboard_shows_the_same_numbers_and_charts(
    crm, rep, client, django_assert_max_num_queries
):
    KpiTarget.objects.create(
        kpi="win_rate", period_kind="quarter", period_start=Q1.start, owner=rep,
        value="0.6",
    )  # fmt: skip
    client.force_login(rep)

    # Queries (25 today): session 1, user 1, admin permissions 2, owner picked
    # in the form 1, report 12 (churn 2, leads 5 (4 on PostgreSQL), cold calls
    # 1, deals 3, targets 1), funnel 3, churn series 2, per rep 1, leads per month 1,
    # the rep choices rendered 1 (a rep has no team choices).
    with django_assert_max_num_queries(25):
        page = client.get(URL, {**Q1_PARAMS, "owner": rep.pk})

    assert page.status_code == 200
    html = page.content.decode()
    # Win rate 3 / 4 = 75.0 %, target 0.6, attainment 0.75 / 0.6 = 125.0 %.
    assert "75.0 %" in html
    assert "125.0 %" in html
    # Weighted pipeline 2370 EUR, revenue 4000 EUR (same as the API).
    assert "2370.00 EUR" in html
    assert "4000.00 EUR" in html
    # Five server-rendered SVG charts, nothing loaded from elsewhere.
    # The funnel's closing-to-won rate, as the API gives it: D1, D4, D6 of 3.
    assert "Closing to won: 100%" in html
    assert html.count('class="pygal-chart"') == 5
    assert "kozea.github.io" not in html
    assert "<script src" not in html.replace('src="/static', "")


def test_rep_cannot_open_another_reps_dashboard(rep, other_rep, client):
    client.force_login(rep)

    page = client.get(URL, {"owner": other_rep.pk})

    # other_rep is not among a rep's choices: the form refuses it.
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()


def test_manager_cannot_open_another_teams_dashboard(
    manager, team, foreign_rep, client
):
    client.force_login(manager)

    page = client.get(URL, {"team": foreign_rep.team_id})

    assert "Select a valid choice" in page.content.decode()


def test_dashboard_defaults_to_the_current_quarter(rep, client):
    client.force_login(rep)

    page = client.get(URL)

    assert page.status_code == 200
    assert "KPI dashboard" in page.content.decode()
