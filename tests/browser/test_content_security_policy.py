"""Every HTML page runs under a strict Content-Security-Policy, with no violation.

A real Chromium visits the public pages, then, signed in as an admin, the
workspace (Today, search and each kind of record page), the board, the
dashboard, the API docs and every admin page (each model's list, its add
form and one change form); it listens to ``securitypolicyviolation`` events and
to the console, where Chromium reports what a policy blocked.
"""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from crm.models import WebhookEndpoint
from leads import services as lead_services
from leads.consent import confirmation_token
from leads.models import ConsentRecord
from pipeline import services as deal_services
from tests.browser.conftest import sign_in
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContactFactory,
    ContentOfferFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def _visit(page, path: str, violations: dict) -> None:
    response = page.goto(path)
    assert response.status < 400, f"{path}: {response.status}"
    if "text/html" in response.headers.get("content-type", ""):
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, f"{path}: no CSP header"
        assert "unsafe-inline" not in policy
    _collect(page, path, violations)


def _collect(page, path: str, violations: dict) -> None:
    page.wait_for_load_state("load")
    found = page.evaluate("window.__csp || []") + [
        text for text in page.console_errors if "Content Security Policy" in text
    ]
    page.console_errors.clear()
    if found:
        violations[path] = found


def _data(admin_user, team, rep):
    team.handles_inbound = True
    team.save()
    offer = ContentOfferFactory(slug="playbook", title="Playbook")
    company = CompanyFactory(owner=rep, name="Acme")
    contact = ContactFactory(company=company)
    SubscriptionFactory(company=company)
    lead = lead_services.lead_capture(
        offer=offer,
        first_name="Ana",
        last_name="Lima",
        email="ana@corp.example",
        company="Corp",
        job_title="CTO",
        phone="",
        consent=True,
        ip_address="192.0.2.1",
        page_url="",
        user_agent="",
    )
    deal = deal_services.deal_create(
        by=rep,
        title="Acme renewal",
        channel="outbound",
        amount=Decimal("1000"),
        currency="EUR",
    )
    ActivityFactory(lead=lead, owner=rep)
    WebhookEndpoint.objects.create(
        url="https://93.184.216.34/in", secret="s" * 32, events=["deal.won"]
    )
    workspace_pages = [
        "/",
        "/search/?q=acme",
        f"/leads/{lead.pk}/",
        f"/deals/{deal.pk}/",
        f"/companies/{company.pk}/",
        f"/contacts/{contact.pk}/",
    ]
    return offer, workspace_pages


def _admin_pages(user) -> list[str]:
    request = RequestFactory().get("/admin/")
    request.user = user
    paths = ["/admin/", "/admin/password_change/", "/admin/leads/lead/import/"]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        paths.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            paths.append(reverse(f"{name}_add"))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            paths.append(reverse(f"{name}_change", args=[obj.pk]))
    return paths


def test_no_page_violates_the_content_security_policy(page, admin_user, team, rep):
    offer, workspace_pages = _data(admin_user, team, rep)
    page.add_init_script(LISTEN)
    violations: dict[str, list[str]] = {}
    token = confirmation_token(ConsentRecord.objects.get(action="requested"))

    for path in [
        f"/offers/{offer.slug}/",
        f"/offers/consent/{token}/",
        "/admin/login/",
    ]:
        _visit(page, path, violations)
    # The capture form's thank-you page, after a real submission.
    page.goto(f"/offers/{offer.slug}/")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Work e-mail").fill("grace@navy.example")
    page.get_by_role("button", name="Get the").click()
    page.get_by_role("heading", name="Thank you!").wait_for()
    _collect(page, "thank-you page", violations)

    sign_in(page, "admin")
    for path in [
        *workspace_pages,
        "/pipeline/",
        "/admin/metrics/dashboard/",
        "/api/docs/",
        *_admin_pages(admin_user),
    ]:
        _visit(page, path, violations)

    assert violations == {}
