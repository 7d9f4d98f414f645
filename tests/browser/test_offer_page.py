"""A visitor downloads content from an offer's landing page, as a person would."""

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from tests.factories import ContentOfferFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_visitor_corrects_a_bad_email_and_gets_the_content(page, rep, team):
    team.handles_inbound = True
    team.save()
    offer = ContentOfferFactory(
        slug="churn-checklist",
        title="The churn checklist",
        kind="checklist",
        external_url="https://content.example/churn.pdf",
    )

    page.goto("/offers/churn-checklist/")
    expect(page.get_by_role("heading", name="The churn checklist")).to_be_visible()
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Work e-mail").fill("grace@")
    page.get_by_label("Company").fill("Navy")
    page.get_by_role("button", name="Get the checklist").click()

    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_label("Company")).to_have_value("Navy")  # kept
    assert not Lead.objects.exists()

    page.get_by_label("Work e-mail").fill("grace@navy.example")
    page.get_by_role("button", name="Get the checklist").click()

    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    link = page.get_by_role("link", name="download “The churn checklist”")
    expect(link).to_have_attribute("href", "https://content.example/churn.pdf")
    lead = Lead.objects.get()
    assert (lead.email, lead.channel, lead.offer, lead.owner) == (
        "grace@navy.example",
        "inbound",
        offer,
        rep,
    )
    assert page.console_errors == []


def test_offer_page_is_usable_on_a_phone(browser, live_server, team):
    ContentOfferFactory(slug="phone", title="On the go")
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 375, "height": 700}
    )
    phone = context.new_page()
    try:
        phone.goto("/offers/phone/")
        # No horizontal scrolling: the form fits the screen.
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375
        expect(phone.get_by_label("Work e-mail")).to_be_visible()
    finally:
        context.close()
