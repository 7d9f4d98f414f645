"""The public landing page of a content offer captures leads without JavaScript."""

import pytest
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from leads.models import Lead
from tests.factories import ContentOfferFactory

pytestmark = pytest.mark.django_db

FORM = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@analytical.example",
    "company": "Analytical Engines",
    "job_title": "CTO",
    "consent": "on",
}


@pytest.fixture
def offer(team):
    team.handles_inbound = True
    team.save()
    return ContentOfferFactory(
        slug="pipeline-playbook",
        title="The pipeline playbook",
        description="Five stages, explained.",
        external_url="https://cdn.example/playbook.pdf",
    )


def test_offer_page_shows_the_offer_and_its_form(client, offer):
    response = client.get("/offers/pipeline-playbook/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "The pipeline playbook" in html
    assert "Five stages, explained." in html
    # The page speaks for the seller, not for the CRM.
    assert "<title>The pipeline playbook · Northwind Software</title>" in html
    assert "Sales CRM" not in html
    assert '<label for="id_email">Work e-mail:</label>' in html


def test_bad_email_shows_the_message_and_keeps_what_was_typed(client, offer, rep):
    response = client.post("/offers/pipeline-playbook/", {**FORM, "email": "ada@"})

    assert response.status_code == 200  # the form again, as Django forms do
    html = response.content.decode()
    assert "Enter a valid email address." in html
    assert 'value="Analytical Engines"' in html
    assert not Lead.objects.exists()


def test_valid_form_captures_an_inbound_lead_and_thanks_with_the_download(
    client, offer, rep
):
    response = client.post("/offers/pipeline-playbook/", FORM, follow=True)

    # Post/redirect/get: reloading the thank-you page posts nothing again.
    assert response.redirect_chain == [("/offers/pipeline-playbook/thanks/", 302)]
    assert response.status_code == 200
    assert b"https://cdn.example/playbook.pdf" in response.content
    lead = Lead.objects.get()
    assert (lead.channel, lead.source, lead.offer, lead.owner) == (
        "inbound",
        "content_download",
        offer,
        rep,
    )
    assert lead.consent is False  # until confirmed through the e-mailed link
    assert lead.consent_records.get().action == "requested"
    assert lead.touches.get().page_url.endswith("/offers/pipeline-playbook/")


def test_bot_filling_the_honeypot_is_thanked_but_nothing_is_saved(client, offer, rep):
    response = client.post(
        "/offers/pipeline-playbook/", {**FORM, "website": "spam"}, follow=True
    )

    assert response.status_code == 200
    assert not Lead.objects.exists()


def test_inactive_or_unknown_offer_is_a_404(client, offer):
    ContentOfferFactory(slug="retired", active=False)

    assert client.get("/offers/retired/").status_code == 404
    assert client.get("/offers/nope/").status_code == 404


def test_form_is_protected_against_csrf(offer, rep):
    response = Client(enforce_csrf_checks=True).post("/offers/pipeline-playbook/", FORM)

    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_repeated_posts_are_throttled(client, offer, rep, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "capture", "2/min")

    statuses = [
        client.post(
            "/offers/pipeline-playbook/", {**FORM, "email": f"a{i}@x.example"}
        ).status_code
        for i in range(3)
    ]

    assert statuses == [302, 302, 429]
    assert Lead.objects.count() == 2
