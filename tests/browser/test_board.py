"""A rep works their pipeline on the board, as a person would."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from pipeline import services
from pipeline.models import StageChange
from tests.browser.conftest import SCREENSHOTS, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _deal(owner, title, amount, stage="prospection"):
    return services.deal_create(
        by=owner,
        title=title,
        channel="outbound",
        amount=Decimal(amount),
        currency="EUR",
        stage=stage,
    )


def test_rep_sees_own_deals_moves_one_and_finds_it_in_history(page, rep, other_rep):
    acme = _deal(rep, "Acme renewal", "1000")
    _deal(rep, "Globex pilot", "500")
    _deal(rep, "Initech rollout", "2000", stage="closing")
    _deal(other_rep, "Someone else's deal", "9999")

    sign_in(page, "rep")
    expect(page).to_have_url(f"{page.url.split('/pipeline/')[0]}/pipeline/")

    columns = page.locator("section.column")
    expect(columns).to_have_count(5)
    expect(page.get_by_text("Someone else's deal")).to_have_count(0)
    prospection = page.locator('section[data-stage="prospection"]')
    expect(prospection.locator(".count")).to_have_text("(2)")
    # 1000 + 500 at 10 %: 1,500.00 and 150.00 weighted.
    expect(prospection.locator(".figures")).to_contain_text(
        "€1,500.00 · weighted €150.00"
    )
    closing = page.locator('section[data-stage="closing"]')
    # 2000 at 80 %: 1,600.00 weighted.
    expect(closing.locator(".figures")).to_contain_text(
        "€2,000.00 · weighted €1,600.00"
    )

    card = page.locator(f"#deal-{acme.pk}")
    card.get_by_label("Move Acme renewal to").select_option("qualification")
    card.get_by_role("button", name="Move").click()

    qualification = page.locator('section[data-stage="qualification"]')
    expect(qualification.get_by_role("heading", name="Acme renewal")).to_be_visible()
    expect(prospection.locator(".count")).to_have_text("(1)")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "board-after-move.png", full_page=True)
    change = StageChange.objects.filter(deal=acme).order_by("pk").last()
    assert (change.from_stage, change.to_stage, change.changed_by) == (
        "prospection",
        "qualification",
        rep,
    )

    page.locator(f"#deal-{acme.pk}").get_by_role("link", name="History").click()
    history = page.locator(".timeline")
    expect(history).to_contain_text("Moved from Prospection to Lead qualification")
    assert page.console_errors == []
