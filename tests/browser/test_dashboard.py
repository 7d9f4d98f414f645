"""A manager reads the KPI dashboard; its cards agree with the API."""

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from metrics.segments import Period
from pipeline import services
from tests.browser.conftest import sign_in
from tests.factories import CompanyFactory, LeadFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _won_deal(owner, amount):
    deal = services.deal_create(
        by=owner,
        title=f"Deal {amount}",
        channel="inbound",
        amount=Decimal(amount),
        stage="closing",
    )
    return services.deal_win(deal=deal, by=owner)


def _card_text(value: str, unit: str) -> str:
    """The API's value as the dashboard card shows it."""
    if unit == "rate":
        return f"{(Decimal(value) * 100).quantize(Decimal('0.1'))} %"
    return value


def test_manager_switches_to_a_rep_and_sees_the_api_figures(
    page, manager, rep, other_rep
):
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
    company = CompanyFactory(owner=rep)
    SubscriptionFactory(
        company=company, started_on=quarter.start - datetime.timedelta(days=60)
    )
    SubscriptionFactory(
        company=CompanyFactory(owner=rep),
        started_on=quarter.start - datetime.timedelta(days=90),
        ended_on=quarter.start + datetime.timedelta(days=3),
    )
    LeadFactory.create_batch(3, owner=rep)
    LeadFactory(owner=other_rep)

    sign_in(page, "manager")
    page.goto("/admin/metrics/dashboard/")
    page.get_by_label("Start").fill(quarter.start.isoformat())
    page.get_by_label("End").fill(quarter.end.isoformat())
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
    for key in ("win_rate", "new_leads", "average_sales_cycle_days"):
        item = kpis[key]
        if item["value"] is not None:
            expect(page.locator(f"#kpi-{key} .kpi-value")).to_contain_text(
                _card_text(str(item["value"]), item["unit"])
            )
    expect(page.locator("#kpi-revenue_won .kpi-value")).to_contain_text("2000.00 EUR")

    charts = page.locator(".kpi-charts svg")
    expect(charts).to_have_count(5)
    for index in range(5):
        chart = charts.nth(index)
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box["width"] > 100
        assert box["height"] > 100
        # Non-empty: pygal draws a "no_data" text in a chart without any value.
        expect(chart.locator("text.no_data")).to_have_count(0)
    assert page.console_errors == []
