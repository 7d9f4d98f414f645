"""A French rep's main flow, in a browser set to French: Today, the lead page,
a logged call, qualification, conversion and the board, in French words and
French formats."""

import pytest
from playwright.sync_api import expect

from leads import services as lead_services

pytestmark = pytest.mark.django_db(transaction=True)

FRENCH_AMOUNT = "12\u202f500,00\xa0€"


@pytest.fixture
def french_page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url,
        locale="fr-FR",
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    yield page
    context.close()


def test_a_french_rep_qualifies_and_converts_a_lead_in_french(french_page, rep):
    page = french_page
    lead_services.lead_create(
        by=rep,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@engines.example",
        company_name="Analytical Engines",
        channel="inbound",
        source="content_download",
    )

    page.goto("/admin/login/?next=/")
    page.get_by_label("Nom d\u2019utilisateur").fill("rep")
    page.get_by_label("Mot de passe").fill("pass-Word-1")
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_role("heading", name="Aujourd\u2019hui")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    waiting = page.locator("section", has_text="Nouveaux leads en attente")
    expect(waiting).to_contain_text("Ada Lovelace")
    page.get_by_role("link", name="Ada Lovelace").click()

    expect(page.get_by_role("heading", name="Ada Lovelace")).to_contain_text("Lead")
    expect(page.get_by_text("Inbound · Téléchargement de contenu")).to_be_visible()
    page.get_by_label("Résultat").select_option(label="Joint")
    page.get_by_label("Notes").first.fill("Veut un devis pour trois sites")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.get_by_text("Activité enregistrée\xa0: Appel.")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Appel (Sortant)\xa0: Joint")

    for criterion in ("Budget", "Autorité", "Besoin", "Échéance"):
        page.get_by_role("checkbox", name=criterion).check()
    page.get_by_role("button", name="Qualifier", exact=True).click()
    expect(
        page.get_by_text("Lead qualifié\xa0: Ada Lovelace (score\xa0:")
    ).to_be_visible()
    expect(page.locator("h1 .status")).to_have_text("Qualifié")

    page.get_by_label("Montant").fill("12500")
    page.get_by_label("Date de conclusion prévue").fill("2026-12-15")
    page.get_by_role("button", name="Convertir", exact=True).click()
    expect(page.get_by_text("Voici la nouvelle affaire.")).to_be_visible()
    details = page.locator("dl.fields")
    expect(details).to_contain_text(FRENCH_AMOUNT)
    expect(details).to_contain_text("15/12/2026")
    expect(page.locator("h1 .status")).to_have_text("Présentation du produit")

    navigation = page.get_by_role("navigation", name="Principale")
    navigation.get_by_role("link", name="Pipeline", exact=True).click()
    expect(page.get_by_role("heading", name="Pipeline", exact=True)).to_be_visible()
    column = page.locator('section[data-stage="presentation"]')
    expect(column).to_contain_text("Présentation du produit")
    expect(column.locator(".card .meta")).to_contain_text(FRENCH_AMOUNT)
    expect(column.locator(".card .meta")).to_contain_text("conclusion le 15/12/2026")
    expect(column.get_by_role("button", name="Déplacer")).to_be_visible()


def test_the_switcher_turns_the_workspace_english_without_javascript(
    browser, live_server, rep
):
    context = browser.new_context(
        base_url=live_server.url, locale="fr-FR", java_script_enabled=False
    )
    page = context.new_page()
    page.goto("/admin/login/?next=/pipeline/")
    page.get_by_label("Nom d\u2019utilisateur").fill("rep")
    page.get_by_label("Mot de passe").fill("pass-Word-1")
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_role("heading", name="Pipeline", exact=True)).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page).to_have_url(f"{live_server.url}/pipeline/")
    expect(page.get_by_role("link", name="Board", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.close()
