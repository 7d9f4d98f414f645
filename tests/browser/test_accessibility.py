"""No serious or critical accessibility violation (axe-core) on the pages reps use.

axe-core 4.14.1 is vendored under ``vendor/`` (MPL-2.0, licence beside it; its
version pinned in package.json, refreshed by ``make vendor-js``) so that a fresh
clone runs this test offline, without npm. The test injects it into each page
as it is served, with the page's own CSP bypassed for that one script only.
"""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from leads import services as lead_services
from pipeline import services
from pipeline.activities import activity_log
from tests.browser.conftest import sign_in
from tests.factories import CompanyFactory, ContactFactory, ContentOfferFactory

pytestmark = pytest.mark.django_db(transaction=True)

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
BLOCKING = {"serious", "critical"}
# Violations of Django's own admin markup that this project cannot fix without
# replacing its widgets: (rule, a piece of every offending node's selector).
# Anything else on an admin page fails like on any other page.
DJANGO_ADMIN_KNOWN = {
    # The autocomplete widget (select2): its combobox span has no name.
    ("aria-input-field-name", "select2"),
    # The admin's breadcrumbs: links told from text by colour only.
    ("link-in-text-block", ".breadcrumbs"),
    # SplitDateTimeWidget: one <label> for two inputs (date and time).
    ("label", "_at_"),
    # Tabular inlines scroll sideways on a phone, without a focusable box.
    ("scrollable-region-focusable", "-group"),
}


def _violations(page) -> list[str]:
    page.add_script_tag(content=AXE)
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document);
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" "))
          }));
        }"""
    )
    in_admin = "/admin/" in page.url
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['nodes'][:3])}"
        for v in found
        if v["impact"] in BLOCKING and not (in_admin and _known(v))
    ]


def _known(violation: dict) -> bool:
    return any(
        violation["id"] == rule and all(piece in node for node in violation["nodes"])
        for rule, piece in DJANGO_ADMIN_KNOWN
    )


def _pages(rep, team):
    team.handles_inbound = True
    team.save()
    ContentOfferFactory(slug="pricing", title="The pricing guide", kind="checklist")
    company = CompanyFactory(name="Analytical Engines", owner=rep)
    contact = ContactFactory(first_name="Ada", last_name="Lovelace", company=company)
    prospect = lead_services.lead_create(
        by=rep, owner=rep, first_name="Alan", last_name="Turing", status="prospect"
    )
    lead = lead_services.lead_create(
        by=rep, owner=rep, first_name="Grace", last_name="Hopper", status="lead"
    )
    deal = services.deal_create(
        by=rep,
        title="Engines",
        channel="outbound",
        amount=Decimal(1000),
        company=company,
        contact=contact,
        stage="closing",
    )
    activity_log(
        by=rep,
        deal=deal,
        kind="call",
        done=False,
        due_at=timezone.now() - datetime.timedelta(hours=1),
    )
    activity_log(by=rep, deal=deal, kind="note", notes="Budget confirmed")
    return [
        "/",
        f"/leads/{prospect.pk}/",
        f"/leads/{lead.pk}/",
        f"/deals/{deal.pk}/",
        f"/companies/{company.pk}/",
        f"/contacts/{contact.pk}/",
        "/search/?q=engines",
        "/leads/",
        "/deals/",
        "/pipeline/",
        # The admin pages a rep uses to enter data.
        "/admin/",
        "/admin/leads/lead/",
        f"/admin/leads/lead/{lead.pk}/change/",
        "/admin/leads/lead/add/",
        "/admin/crm/contact/",
        f"/admin/crm/contact/{contact.pk}/change/",
        "/admin/pipeline/activity/add/",
    ]


def test_no_serious_violation_on_the_offer_pages(browser, live_server, rep, team):
    team.handles_inbound = True
    team.save()
    ContentOfferFactory(slug="pricing", title="The pricing guide", kind="checklist")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto("/offers/pricing/")
        found = {"offer": _violations(page)}
        page.get_by_role("button", name="Get the checklist").click()  # with errors
        found["offer with errors"] = _violations(page)
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Last name").fill("Lovelace")
        page.get_by_label("Work e-mail").fill("ada@engines.example")
        page.get_by_label("Company").fill("Analytical Engines")
        page.get_by_role("button", name="Get the checklist").click()
        page.get_by_role("heading", name="Thank you!").wait_for()
        found["thanks"] = _violations(page)
    finally:
        context.close()
    assert {name: v for name, v in found.items() if v} == {}


@pytest.mark.parametrize("width", [1366, 375])
def test_no_serious_violation_on_the_pages_reps_use(
    browser, live_server, rep, team, width
):
    urls = _pages(rep, team)
    context = browser.new_context(
        base_url=live_server.url,
        bypass_csp=True,
        viewport={"width": width, "height": 900},
    )
    page = context.new_page()
    try:
        sign_in(page, "rep")
        found = {}
        for url in urls:
            assert page.goto(url).status == 200, url
            found[url] = _violations(page)
    finally:
        context.close()
    failures = {url: v for url, v in found.items() if v}
    assert not failures, "\n".join(f"{u}: {v}" for u, v in failures.items())
