"""A rep takes a lead from its capture to a won deal in the workspace, as a
person would, and the new pages fit a laptop and a phone."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from leads import services as lead_services
from leads.models import Touch
from pipeline import services
from pipeline.activities import activity_log
from pipeline.models import Activity, Deal, DealStatus, Stage
from tests.browser.conftest import SCREENSHOTS, sign_in
from tests.factories import CompanyFactory, ContactFactory, ContentOfferFactory

pytestmark = pytest.mark.django_db(transaction=True)

MAX_CLICKS = 15
# A Monday, 09:00 in Paris (the test settings' time zone).
MONDAY = datetime.datetime(2026, 3, 2, 8, 0, tzinfo=datetime.UTC)


class Clicks:
    """Click through this, so that the test counts every click a rep makes."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, locator) -> None:
        self.count += 1
        locator.click()


def _drag(page, deal_pk: int, stage: str) -> None:
    """Drag a card by its body onto another column, as a mouse would."""
    card = page.locator(f"#deal-{deal_pk}")
    target = page.locator(f'section[data-stage="{stage}"] .cards')
    # Only once board.js has made the columns sortable (a deferred script: on
    # a busy machine the drag could come first and move nothing).
    expect(target).to_have_attribute("data-sortable", "on")
    card.locator(".meta").drag_to(target)


def test_from_capture_to_won_deal_in_at_most_15_clicks(page, rep, team):
    team.handles_inbound = True
    team.save()
    ContentOfferFactory(slug="pricing", title="The pricing guide", kind="checklist")
    click = Clicks()

    # A visitor asks for the guide; a reload of the thank-you page sends nothing.
    page.goto("/offers/pricing/")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Work e-mail").fill("ada@engines.example")
    page.get_by_label("Company").fill("Analytical Engines")
    click(page.get_by_role("button", name="Get the checklist"))
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert Touch.objects.count() == 1

    # The rep signs in, lands on Today and finds the lead by search.
    page.goto("/admin/login/?next=/")
    page.get_by_label("Username").fill("rep")
    page.get_by_label("Password").fill("pass-Word-1")
    click(page.get_by_role("button", name="Log in"))
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    waiting = page.locator("section", has_text="New leads waiting")
    expect(waiting).to_contain_text("Ada Lovelace")
    # "/" jumps to the search box in the navigation.
    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name="Search leads")).to_be_focused()
    page.keyboard.type("lovelace")
    page.keyboard.press("Enter")
    click(page.get_by_role("link", name="Ada Lovelace"))
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    # A capture from a content offer makes a lead at once (a prospect who asks
    # for content has shown interest): "Mark as lead" is for prospects only.
    expect(page.get_by_role("button", name="Mark as lead")).to_have_count(0)

    # Log a call, qualify, convert with amount and date.
    page.get_by_label("Notes").first.fill("Wants a quote for 3 sites")
    click(page.get_by_role("button", name="Log", exact=True))
    expect(page.get_by_text("Call logged.")).to_be_visible()
    for criterion in ("Budget", "Authority", "Need", "Timeline"):
        click(page.get_by_role("checkbox", name=criterion))
    click(page.get_by_role("button", name="Qualify", exact=True))
    expect(page.get_by_text("is qualified")).to_be_visible()
    page.get_by_label("Amount").fill("12500")
    page.get_by_label("Expected close date").fill("2026-12-15")
    click(page.get_by_role("button", name="Convert"))
    expect(page.get_by_text("this is the new deal")).to_be_visible()
    deal = Deal.objects.get()

    # On the board, drag the card through the stages, then win it on its card.
    nav = page.get_by_role("navigation", name="Main")
    click(nav.get_by_role("link", name="Board", exact=True))
    for stage in (Stage.CONSIDERATION, Stage.CLOSING):
        click.count += 1  # a drag is one gesture
        _drag(page, deal.pk, stage.value)
        expect(page.get_by_text(f"moved to {stage.label}")).to_be_visible()
        column = page.locator(f'section[data-stage="{stage.value}"]')
        expect(column.locator(f"#deal-{deal.pk}")).to_be_visible()
    click(page.locator(f"#deal-{deal.pk}").get_by_role("button", name="Won"))
    expect(page.get_by_text("is won")).to_be_visible()

    deal.refresh_from_db()
    assert (deal.status, deal.amount) == (DealStatus.WON, Decimal("12500.00"))
    assert deal.expected_close_on == datetime.date(2026, 12, 15)
    changes = deal.stage_changes.order_by("changed_at", "pk")
    assert list(changes.values_list("to_stage", flat=True)) == [
        "presentation",
        "consideration",
        "closing",
        "closing",
    ]
    page.goto(f"/deals/{deal.pk}/")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Downloaded The pricing guide")
    expect(timeline).to_contain_text("Wants a quote for 3 sites")
    expect(timeline).to_contain_text("Won")
    assert click.count <= MAX_CLICKS, click.count
    print(f"capture to won: {click.count} clicks")  # noqa: T201 - for the report
    assert page.console_errors == []


def test_plan_a_task_and_see_it_overdue_the_next_day(page, rep):
    lead = lead_services.lead_create(
        by=rep,
        owner=rep,
        first_name="Grace",
        last_name="Hopper",
        channel="inbound",
        source="event",
    )
    # Monday 9:00 in Paris; the server's clock is frozen, ticking from there.
    with time_machine.travel(MONDAY, tick=True):
        sign_in(page, "rep")
        page.goto(f"/leads/{lead.pk}/")
        page.get_by_text("Plan a task").click()
        page.get_by_label("Due on").fill("2026-03-03")
        page.get_by_label("At", exact=True).fill("10:30")
        page.get_by_label("What for").fill("Send the quote")
        page.get_by_role("button", name="Plan", exact=True).click()
        expect(page.get_by_text("Task planned.")).to_be_visible()
        tasks = page.locator("section", has=page.get_by_role("heading", name="Tasks"))
        expect(tasks).to_contain_text("Send the quote")
        expect(tasks.locator(".overdue")).to_have_count(0)
        page.goto("/")
        expect(page.locator(".tasks-badge")).to_have_count(0)
    # Tuesday 14:00: the 10:30 call is overdue, on Today and in the badge.
    with time_machine.travel(MONDAY + datetime.timedelta(days=1, hours=5), tick=True):
        page.goto("/")
        due = page.locator("section", has=page.get_by_role("heading", name="My tasks"))
        expect(due.locator(".task.overdue")).to_contain_text("Send the quote")
        expect(due.locator(".overdue-badge")).to_have_text("Overdue")
        expect(page.locator(".tasks-badge")).to_contain_text("1")
        due.get_by_role("button", name="Done").click()
        expect(page.get_by_text("Call done and logged.")).to_be_visible()
        expect(page.locator(".tasks-badge")).to_have_count(0)
    task = Activity.objects.get()
    assert task.done
    assert page.console_errors == []


def test_drag_a_card_to_the_next_stage(page, rep):
    deal = services.deal_create(
        by=rep, title="Drag me", channel="outbound", amount=Decimal(100)
    )
    sign_in(page, "rep")
    _drag(page, deal.pk, "qualification")
    expect(page.get_by_text("Drag me moved to Lead qualification.")).to_be_visible()
    deal.refresh_from_db()
    assert (deal.stage, deal.version) == (Stage.QUALIFICATION, 2)
    assert page.console_errors == []


def _records(rep):
    company = CompanyFactory(name="Analytical Engines", domain="engines.example")
    contact = ContactFactory(
        first_name="Ada", last_name="Lovelace", company=company, owner=rep
    )
    lead = lead_services.lead_create(
        by=rep,
        owner=rep,
        first_name="Grace",
        last_name="Hopper",
        email="grace@navy.example",
        company_name="Navy Labs",
        channel="inbound",
        source="event",
    )
    deal = services.deal_create(
        by=rep,
        title="Engines for three sites, a rather long deal title",
        channel="outbound",
        amount=Decimal("1234567.89"),
        company=company,
        contact=contact,
        expected_close_on=datetime.date(2026, 12, 15),
    )
    activity_log(by=rep, deal=deal, kind="call", notes="Budget confirmed")
    activity_log(
        by=rep,
        lead=lead,
        kind="call",
        done=False,
        due_at=timezone.now() - datetime.timedelta(hours=1),
        notes="Call back about the event",
    )
    return {
        "today": "/",
        "lead": f"/leads/{lead.pk}/",
        "deal": f"/deals/{deal.pk}/",
        "company": f"/companies/{company.pk}/",
        "contact": f"/contacts/{contact.pk}/",
        "search": "/search/?q=engines",
        "leads": "/leads/?sort=last_name",
        "deals": "/deals/",
        "board": "/pipeline/",
    }


@pytest.mark.parametrize("width", [1366, 375])
def test_workspace_pages_fit_the_screen(browser, live_server, rep, width):
    pages = _records(rep)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    try:
        sign_in(page, "rep")
        SCREENSHOTS.mkdir(exist_ok=True)
        for name, url in pages.items():
            response = page.goto(url)
            assert response.status == 200, url
            page.screenshot(
                path=SCREENSHOTS / f"workspace-{name}-{width}.png", full_page=True
            )
            # No sideways scrolling (the board scrolls inside its own box).
            width_used = page.evaluate("document.documentElement.scrollWidth")
            assert width_used <= width, (url, width_used)
    finally:
        context.close()
