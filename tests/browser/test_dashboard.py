"""A manager reads the KPI dashboard; its cards agree with the API, its charts
load as images of their own, legible in light and dark, on a desktop and a phone."""

import datetime
import os
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from metrics.segments import Period
from pipeline import services
from tests.browser.conftest import SCREENSHOTS, sign_in
from tests.factories import CompanyFactory, LeadFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Screenshots for a person to look at (DASHBOARD_SCREENSHOTS moves them).
SCREENS = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or SCREENSHOTS)
CHARTS_LOADED = """() => [...document.querySelectorAll('.kpi-charts img')].every(
    img => img.complete && img.naturalWidth > 0)"""


def _won_deal(owner, amount):
    deal = services.deal_create(
        by=owner,
        title=f"Deal {amount}",
        channel="inbound",
        amount=Decimal(amount),
        stage="closing",
    )
    return services.deal_win(deal=deal, by=owner)


def _crm(rep, other_rep):
    quarter = Period.current_quarter()
    _won_deal(rep, "1200")
    _won_deal(rep, "800")
    lost = services.deal_create(
        by=rep, title="Lost", channel="outbound", amount=Decimal(5)
    )
    services.deal_lose(deal=lost, by=rep, reason="price")
    _won_deal(other_rep, "5000")
    services.deal_create(
        by=rep,
        title="Open",
        channel="outbound",
        amount=Decimal(300),
        stage="consideration",
    )
    SubscriptionFactory(
        company=CompanyFactory(owner=rep),
        started_on=quarter.start - datetime.timedelta(days=60),
    )
    SubscriptionFactory(
        company=CompanyFactory(owner=rep),
        started_on=quarter.start - datetime.timedelta(days=90),
        ended_on=quarter.start + datetime.timedelta(days=3),
    )
    LeadFactory.create_batch(3, owner=rep)
    LeadFactory(owner=other_rep)
    return quarter


def _expect_charts(page, count=5):
    charts = page.locator(".kpi-charts img")
    expect(charts).to_have_count(count)
    for index in range(count):
        charts.nth(index).scroll_into_view_if_needed()
    page.wait_for_function(CHARTS_LOADED)
    for index in range(count):
        chart = charts.nth(index)
        expect(chart).to_be_visible()
        assert chart.get_attribute("alt")
        box = chart.bounding_box()
        assert box["width"] > 100
        assert box["height"] > 100


def test_manager_switches_to_a_rep_and_sees_the_api_figures(
    page, manager, rep, other_rep
):
    quarter = _crm(rep, other_rep)

    sign_in(page, "manager")
    page.goto("/admin/metrics/dashboard/")
    # The inputs show the period the page is showing (the current quarter).
    expect(page.get_by_label("Start")).to_have_value(quarter.start.isoformat())
    expect(page.get_by_label("End")).to_have_value(quarter.end.isoformat())
    page.get_by_label("Rep").select_option(value=str(rep.pk))
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()

    api = page.request.get(
        f"/api/v1/metrics/kpis/?start={quarter.start}&end={quarter.end}&owner={rep.pk}"
    ).json()
    kpis = {item["key"]: item for item in api["kpis"]}
    # Figures for the rep alone: 2 won of 3 closed, 1200 + 800 won, 3 new leads.
    assert kpis["win_rate"]["value"].startswith("0.666")
    assert kpis["revenue_won"]["values"] == [{"currency": "EUR", "value": "2000.00"}]
    assert kpis["new_leads"]["value"] == 3
    expect(page.locator("#kpi-win_rate .kpi-value")).to_have_text("66.7%")
    expect(page.locator("#kpi-new_leads .kpi-value")).to_have_text("3")
    expect(page.locator("#kpi-revenue_won .kpi-value")).to_have_text("€2,000.00")
    _expect_charts(page)
    assert page.console_errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1366, 375])
def test_dashboard_fits_and_reads_in_both_schemes(
    browser, live_server, manager, rep, other_rep, width, scheme
):
    _crm(rep, other_rep)
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": width, "height": 900},
        color_scheme=scheme,
    )
    page = context.new_page()
    failures = []
    page.on(
        "response",
        lambda response: response.status >= 400 and failures.append(response.url),
    )
    try:
        sign_in(page, "manager")
        page.goto("/admin/metrics/dashboard/")
        _expect_charts(page)

        # No sideways scrolling, on a phone too.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # The chart drawn for the screen: the narrow one on a phone.
        sources = page.evaluate(
            "[...document.querySelectorAll('.kpi-charts img')].map(i => i.currentSrc)"
        )
        expected = "size=narrow" if width < 700 else "size=wide"
        assert all(expected in source for source in sources)
        # Chart text at least 12 px on screen: 15 units drawn at the shown scale.
        shown = page.locator(".kpi-charts img").first.bounding_box()["width"]
        drawn = 360 if width < 700 else 720
        assert 15 * shown / drawn >= 12
        # The page follows the scheme; the chart carries its dark palette.
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        dark = background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
        assert dark == (scheme == "dark")
        svg = page.request.get(sources[0]).text()
        assert "prefers-color-scheme:dark" in svg.replace(" ", "")
        assert failures == []
        SCREENS.mkdir(parents=True, exist_ok=True)
        name = f"dashboard-{width}-{scheme}"
        page.screenshot(path=SCREENS / f"{name}.png", full_page=True)
        page.locator(".kpi-charts").screenshot(path=SCREENS / f"{name}-charts.png")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=SCREENS / f"{name}-top.png")
    finally:
        context.close()


def test_deals_list_keeps_its_lost_reason_usable_on_a_phone(
    browser, live_server, manager, rep
):
    services.deal_create(by=rep, title="Open", channel="inbound", amount=Decimal(9))
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 375, "height": 800}
    )
    page = context.new_page()
    try:
        sign_in(page, "manager")
        page.goto("/admin/pipeline/deal/")
        reason = page.get_by_label("Lost reason")
        expect(reason).to_be_visible()
        # Wide enough to read its longest choice, and within the screen.
        box = reason.bounding_box()
        assert box["width"] >= 150
        assert box["x"] + box["width"] <= 375
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENS / "deals-375.png", full_page=True)
    finally:
        context.close()
