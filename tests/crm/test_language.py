"""The reader's language: the browser's Accept-Language, the switcher in the
navigation (a plain form, no JavaScript) and the user's own saved choice."""

from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import ContentOfferFactory, DealFactory

pytestmark = pytest.mark.django_db

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_english_is_the_default(rep):
    html = signed_in(rep).get("/").content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Today</h1>" in html


def test_a_french_browser_reads_the_workspace_in_french(rep):
    response = signed_in(rep).get("/", **FRENCH)
    html = response.content.decode()
    assert response["Content-Language"] == "fr"
    assert '<html lang="fr">' in html
    assert "<h1>Aujourd\u2019hui</h1>" in html
    assert "Nouveaux leads en attente d\u2019une première réponse" in html
    assert "Mes affaires dormantes" in html


def test_the_users_saved_language_beats_the_browsers(rep):
    rep.language = "en"
    rep.save(update_fields=["language"])
    html = signed_in(rep).get("/", **FRENCH).content.decode()
    assert "<h1>Today</h1>" in html

    rep.language = "fr"
    rep.save(update_fields=["language"])
    html = signed_in(rep).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Aujourd\u2019hui</h1>" in html


def test_the_switcher_is_a_form_that_works_without_javascript(rep):
    client = signed_in(rep)
    html = client.get("/pipeline/").content.decode()
    # One submit button per language, posting to set_language with the page.
    assert 'action="/i18n/setlang/"' in html
    assert 'name="language" value="fr"' in html
    assert 'name="next" value="/pipeline/"' in html

    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/pipeline/"})
    assert (response.status_code, response["Location"]) == (302, "/pipeline/")
    assert "Tableau du pipeline" in client.get("/pipeline/").content.decode()
    rep.refresh_from_db()
    assert rep.language == "fr"  # kept for the next device too


def test_an_anonymous_visitor_switches_with_the_cookie_only(admin_user):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "fr"
    assert "Nom d\u2019utilisateur" in client.get("/admin/login/").content.decode()


def test_the_switcher_refuses_an_unknown_language_and_a_foreign_next(rep):
    client = signed_in(rep)
    response = client.post(
        "/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    rep.refresh_from_db()
    assert rep.language == ""


def test_the_admin_has_the_switcher_and_french_labels(admin_user):
    DealFactory(owner=admin_user, amount=Decimal("1234.5"), currency="EUR")
    html = signed_in(admin_user).get("/admin/pipeline/deal/", **FRENCH).content.decode()
    assert 'action="/i18n/setlang/"' in html
    assert "Choisir l\u2019élément à modifier\xa0: affaire" in html
    assert "Marquer les affaires sélectionnées comme gagnées" in html
    # The amount column in the reader's format: narrow no-break spaces group.
    assert "1\u202f234,50\xa0€" in html


def test_an_offer_page_speaks_the_offers_language_whatever_the_browser():
    ContentOfferFactory(
        slug="guide", title="Le guide des prix", kind="ebook", language="fr"
    )
    response = Client().get("/offers/guide/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response["Content-Language"] == "fr"
    assert '<html lang="fr">' in html
    assert "Recevoir le contenu (livre électronique)" in html
    assert "E-mail professionnel" in html

    ContentOfferFactory(slug="pricing", title="The pricing guide", kind="ebook")
    html = Client().get("/offers/pricing/", **FRENCH).content.decode()
    assert "Get the e-book" in html


def test_a_french_offers_errors_and_consent_text_are_french():
    offer = ContentOfferFactory(slug="guide", kind="ebook", language="fr")
    response = Client().post(f"/offers/{offer.slug}/", {"first_name": "Ada"})
    html = response.content.decode()
    assert "Merci de corriger les champs signalés ci-dessous." in html
    assert "Ce champ est obligatoire." in html
    assert "Vous pouvez me contacter au sujet de ce contenu" in html
