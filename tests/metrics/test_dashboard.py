"""The KPI dashboard page in the admin: its figures, its charts, their caching."""

import datetime
import pickle
import re
from decimal import Decimal

import pytest
import time_machine

from leads import services as lead_services
from metrics.dashboard import Query, _card, _figures
from metrics.data_version import data_version
from metrics.kpis.registry import BY_KEY
from metrics.models import KpiTarget
from metrics.report import KpiItem
from metrics.segments import segment_for
from pipeline import services
from pipeline.activities import activity_log
from tests.factories import LeadFactory, TeamFactory, UserFactory
from tests.metrics.datasets import Q1, build_customers, build_deals, build_leads

pytestmark = pytest.mark.django_db

URL = "/admin/metrics/dashboard/"
CHART = URL + "chart/{}.svg"
Q1_PARAMS = {"start": "2026-01-01", "end": "2026-03-31"}
CHARTS = ("funnel", "pipeline", "churn", "reps", "leads")


@pytest.fixture
def crm(rep, other_rep, foreign_rep):
    build_customers(rep, foreign_rep)
    build_leads(rep, foreign_rep)
    build_deals(rep, foreign_rep)


def _chart_urls(html: str) -> list[str]:
    return [
        url.replace("&amp;", "&") for url in re.findall(r'<img src="([^"]+)"', html)
    ]


def test_admin_index_links_to_the_dashboard(rep, client):
    client.force_login(rep)

    page = client.get("/admin/")

    assert URL in page.content.decode()


def test_dashboard_shows_the_figures_in_the_readers_format(
    crm, rep, client, django_assert_max_num_queries
):
    KpiTarget.objects.create(
        kpi="win_rate", period_kind="quarter", period_start=Q1.start, owner=rep,
        value="0.6",
    )  # fmt: skip
    client.force_login(rep)

    # Queries (at most 22): session 1, user 1, the owner picked in the form 1,
    # the data version 1, the report 12 (churn 2, leads 5 (4 on PostgreSQL),
    # cold calls 1, deals 3, targets 1), the rep choices rendered 1 (a rep has
    # no team choices), the admin's navigation 2-3 (sidebar, permissions).
    with django_assert_max_num_queries(22):
        page = client.get(URL, {**Q1_PARAMS, "owner": rep.pk})

    assert page.status_code == 200
    html = page.content.decode()
    # Win rate 3 / 4 = 75.0%, target 0.6, attainment 0.75 / 0.6 = 125.0%.
    assert "75.0%" in html
    assert "125.0%" in html
    # Weighted pipeline 2370 EUR, revenue 4000 EUR (same as the API), grouped.
    assert "€2,370.00" in html
    assert "€4,000.00" in html
    # The page carries the figures; the five charts are images of their own.
    assert 'class="pygal-chart"' not in html
    urls = _chart_urls(html)
    assert [url.split("?")[0] for url in urls] == [CHART.format(n) for n in CHARTS]
    assert all(f"owner={rep.pk}" in url and "start=2026-01-01" in url for url in urls)
    assert html.count('alt="') >= 5
    assert "docs/metrics.md" not in html


def test_the_page_reads_its_report_from_the_cache_until_data_changes(
    crm, rep, client, django_assert_max_num_queries
):
    client.force_login(rep)
    client.get(URL, Q1_PARAMS)

    # Queries (at most 7): session 1, user 1, data version 1, the rep choices
    # rendered 1, the admin's navigation 2-3; the report comes from the cache.
    with django_assert_max_num_queries(7):
        page = client.get(URL, Q1_PARAMS)

    assert "75.0%" in page.content.decode()


def test_the_cached_figures_are_plain_values(crm, rep):
    # Unpickling a lazy translation builds its proxy class again (about half
    # a millisecond): the report's dozens of them cost a page read from the
    # cache more than the rest of its work. Only the cards, as text, are kept.
    query = Query(Q1, segment_for(viewer=rep, team=None, owner=None, channel=""), {})

    figures = _figures(query)

    assert b"_lazy_proxy_unpickle" not in pickle.dumps(figures)
    assert figures["period"] == Q1
    win_rate = next(card for card in figures["cards"] if card["key"] == "win_rate")
    assert (win_rate["label"], win_rate["values"]) == (
        str(BY_KEY["win_rate"].label),
        ["75.0%"],
    )


def test_date_inputs_show_the_active_period(rep, client):
    client.force_login(rep)

    with time_machine.travel(datetime.datetime(2026, 5, 10, 12, tzinfo=datetime.UTC)):
        html = client.get(URL).content.decode()

    assert 'name="start" value="2026-04-01"' in html
    assert 'name="end" value="2026-06-30"' in html


def test_a_chart_is_svg_with_an_etag_then_304(
    crm, rep, client, django_assert_max_num_queries
):
    client.force_login(rep)
    url = CHART.format("funnel")

    # Queries (at most 7): session 1, user 1, data version 1, the funnel 3.
    with django_assert_max_num_queries(7):
        first = client.get(url, Q1_PARAMS)

    assert first.status_code == 200
    assert first["Content-Type"].startswith("image/svg+xml")
    assert first["Cache-Control"] == "private, no-cache"
    svg = first.content.decode()
    assert "<desc>" in svg
    assert "<script" not in svg
    assert "kozea.github.io" not in svg
    # Queries (at most 3): session 1, user 1, data version 1; nothing drawn.
    with django_assert_max_num_queries(3):
        again = client.get(url, Q1_PARAMS, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]


@pytest.mark.parametrize("name", CHARTS)
def test_every_chart_draws_its_figures_as_text_too(crm, rep, client, name):
    client.force_login(rep)

    for size in ("wide", "narrow"):
        response = client.get(CHART.format(name), {**Q1_PARAMS, "size": size})

        assert response.status_code == 200
        svg = response.content.decode()
        assert re.search(r"<title>[^<]+</title>", svg)
        assert re.search(r"<desc>[^<]+</desc>", svg)
        assert 'class="no_data"' not in svg


def test_funnel_chart_text_has_the_funnel_figures(crm, rep, client):
    client.force_login(rep)

    svg = client.get(CHART.format("funnel"), Q1_PARAMS).content.decode()

    # The funnel's closing-to-won rate, as the API gives it: D1, D4, D6 of 3.
    assert "closing to won: 100%" in svg


def test_a_change_through_a_service_moves_the_version_and_redraws(rep, client):
    client.force_login(rep)
    url = CHART.format("pipeline")
    deal = services.deal_create(
        by=rep, title="A", channel="inbound", amount=Decimal(1000), stage="closing"
    )
    first = client.get(url)
    version = data_version()

    # An edit in place: no ledger row, a DataChange in the same transaction.
    services.deal_update(deal=deal, by=rep, amount=Decimal(2500))

    assert data_version() != version
    second = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    assert "€2,500.00" in second.content.decode()
    assert "€1,000.00" not in second.content.decode()


def test_a_stage_move_moves_the_version(rep):
    deal = services.deal_create(
        by=rep, title="A", channel="inbound", amount=Decimal(10), stage="presentation"
    )
    version = data_version()

    services.deal_move(deal=deal, by=rep, to_stage="consideration")

    assert data_version() != version


def _new_lead(rep, other_rep):
    lead_services.lead_create(by=rep, first_name="A", email="a@example.com")


def _reassign(rep, other_rep):
    lead = lead_services.lead_create(by=rep, first_name="B", email="b@example.com")
    version = data_version()
    lead_services.lead_reassign(lead=lead, to=other_rep, by=other_rep.team.manager)
    return version


def _log_call(rep, other_rep):
    lead = LeadFactory(owner=rep)
    version = data_version()
    activity_log(by=rep, kind="call", lead=lead)
    return version


def _move_rep(rep, other_rep):
    other_rep.team = TeamFactory()
    other_rep.save()


def _set_target(rep, other_rep):
    KpiTarget.objects.create(
        kpi="new_leads", period_kind="quarter", period_start=Q1.start, value=3
    )


def _weigh_a_deal(rep, other_rep):
    deal = services.deal_create(
        by=rep, title="D", channel="outbound", amount=Decimal("1000"), currency="EUR"
    )
    version = data_version()
    # The weighted pipeline reads the deal's own probability when it has one.
    services.deal_update(deal=deal, by=rep, probability=80)
    return version


@pytest.mark.parametrize(
    "change",
    [_new_lead, _reassign, _log_call, _move_rep, _set_target, _weigh_a_deal],
)
def test_each_kind_of_change_moves_the_version(rep, other_rep, change):
    version = data_version()

    before = change(rep, other_rep) or version

    assert data_version() != before


def test_a_row_committed_below_the_highest_id_still_moves_the_version(rep):
    # Ids are taken at insert, not at commit: a transaction that commits
    # after a later one adds a row below the highest id.
    first = services.deal_create(
        by=rep, title="A", channel="inbound", amount=Decimal(10), stage="presentation"
    )
    services.deal_create(
        by=rep, title="B", channel="inbound", amount=Decimal(10), stage="presentation"
    )
    from pipeline.models import StageChange

    row = StageChange.objects.filter(deal=first).get()
    row_values = {
        f.attname: getattr(row, f.attname) for f in StageChange._meta.concrete_fields
    }
    StageChange.objects.filter(pk=row.pk)._raw_delete(StageChange.objects.db)
    version = data_version()

    StageChange.objects.bulk_create([StageChange(**row_values)])

    assert data_version() != version


def test_a_rep_cannot_fetch_another_reps_chart(rep, other_rep, client):
    client.force_login(rep)

    response = client.get(CHART.format("reps"), {"owner": other_rep.pk})

    assert response.status_code == 404


def test_a_manager_cannot_fetch_another_teams_chart(manager, team, foreign_rep, client):
    client.force_login(manager)

    assert client.get(CHART.format("funnel"), {"team": team.pk}).status_code == 200
    response = client.get(CHART.format("funnel"), {"team": foreign_rep.team_id})

    assert response.status_code == 404


def test_an_unknown_chart_is_missing(rep, client):
    client.force_login(rep)

    assert client.get(CHART.format("secret")).status_code == 404
    assert client.get(CHART.format("funnel"), {"size": "huge"}).status_code == 404


def test_charts_need_a_signed_in_staff_user(client):
    response = client.get(CHART.format("funnel"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


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


def test_the_rep_picker_lists_the_reps_in_scope_by_name(
    manager, team, rep, foreign_rep, client, django_assert_max_num_queries
):
    # Names are escaped; a rep without a name shows the username.
    UserFactory(team=team, first_name="<b>Al</b>", last_name="Smith")
    UserFactory(team=team, username="nameless", first_name="", last_name="")
    for _ in range(20):
        UserFactory(team=team)
    client.force_login(manager)

    # The page's cap (see above): 23 reps, no query per option.
    with django_assert_max_num_queries(22):
        page = client.get(URL, {**Q1_PARAMS, "owner": rep.pk})

    picker = re.search(
        r'<select name="owner" id="id_owner">(.*?)</select>',
        page.content.decode(),
        re.S,
    )[1]
    options = re.findall(r'<option value="(\d*)"( selected)?>([^<]*)</option>', picker)
    # "---------", then the team's 23 reps and the manager; only the chosen
    # one selected; the other team's rep is not offered.
    assert len(options) == 1 + 23 + 1
    assert options[0] == ("", "", "---------")
    assert [value for value, chosen, _ in options if chosen] == [str(rep.pk)]
    assert (str(rep.pk), " selected", rep.get_full_name()) in options
    assert any(name == "nameless" for _, _, name in options)
    assert "&lt;b&gt;Al&lt;/b&gt; Smith" in picker
    assert str(foreign_rep.pk) not in {value for value, _, _ in options}


def _team_options(client, user, **params) -> list[tuple[str, str, str]]:
    client.force_login(user)
    page = client.get(URL, {**Q1_PARAMS, **params}).content.decode()
    picker = re.search(r'<select name="team" id="id_team">(.*?)</select>', page, re.S)
    return re.findall(r'<option value="(\d*)"( selected)?>([^<]*)</option>', picker[1])


def test_the_team_picker_lists_the_teams_in_scope_by_name(
    admin_user, manager, team, foreign_rep, client
):
    east = TeamFactory(name="<i>East</i>", manager=manager)
    south = foreign_rep.team

    # By name, escaped, the chosen one selected.
    assert _team_options(client, admin_user, team=south.pk) == [
        ("", "", "---------"),
        (str(east.pk), "", "&lt;i&gt;East&lt;/i&gt;"),
        (str(team.pk), "", "North"),
        (str(south.pk), " selected", "South"),
    ]
    # A manager is offered the teams they manage.
    assert [name for _, _, name in _team_options(client, manager)] == [
        "---------",
        "&lt;i&gt;East&lt;/i&gt;",
        "North",
    ]


def test_dashboard_defaults_to_the_current_quarter(rep, client):
    client.force_login(rep)

    page = client.get(URL)

    assert page.status_code == 200
    assert "KPI dashboard" in page.content.decode()


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        # 43,544.56 minutes = 725.7 hours = 30.2 days.
        ("median_lead_response_minutes", Decimal("43544.56"), "30.2 days"),
        ("median_hours_to_qualify", Decimal("5.5"), "5.5 hours"),
        ("average_sales_cycle_days", Decimal("12.26"), "12.3 days"),
        ("new_leads", 12345, "12,345"),
        ("win_rate", Decimal("0.6667"), "66.7%"),
    ],
)
def test_cards_write_figures_for_the_reader(key, value, shown):
    kpi = BY_KEY[key]
    item = KpiItem(
        key=key, label=kpi.label, unit=kpi.unit.name, better=kpi.better, value=value
    )

    assert _card(item)["values"] == [shown]


def test_money_cards_group_thousands_per_currency():
    kpi = BY_KEY["revenue_won"]
    item = KpiItem(
        key=kpi.key, label=kpi.label, unit="money", better=kpi.better,
        values=(("EUR", Decimal("1234567.5")), ("USD", Decimal(0))),
    )  # fmt: skip

    assert _card(item)["values"] == ["€1,234,567.50", "$0.00"]
