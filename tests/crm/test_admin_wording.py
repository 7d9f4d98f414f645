"""Django's admin phrases read as correct French whatever the model's name:
the name after a colon or in brackets, never glued after "de" or before an
adjective that would have to agree with it (our catalogue rewords Django's)."""

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client
from django.utils import translation

from tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.django_db


def _french(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(user)
    return client


def test_titles_and_buttons_put_the_models_name_after_a_colon(admin_user):
    client = _french(admin_user)

    changelist = client.get("/admin/crm/subscription/").content.decode()
    add = client.get("/admin/crm/subscription/add/").content.decode()

    assert "Choisir l\u2019élément à modifier\xa0: abonnement" in changelist
    assert "Ajouter\xa0: abonnement" in changelist  # the button
    assert "<title>Ajouter\xa0: abonnement" in add
    for page in (changelist, add):
        assert "Ajout de " not in page
        assert "Sélectionnez l\u2019objet" not in page


def test_bulk_actions_name_the_selection_without_agreeing_an_adjective(admin_user):
    # The actions show over a list of records.
    CompanyFactory(owner=admin_user)
    DealFactory(owner=admin_user)
    client = _french(admin_user)

    companies = client.get("/admin/crm/company/").content.decode()
    deals = client.get("/admin/pipeline/deal/").content.decode()

    # "les entreprises sélectionnés" was the slip: "la sélection" agrees with itself.
    assert "Supprimer la sélection (entreprises)" in companies
    assert "Exporter la sélection en CSV (affaires)" in deals
    assert "sélectionnés" not in companies + deals


def test_the_change_history_reads_in_french():
    added = LogEntry(
        action_flag=ADDITION,
        change_message='[{"added": {"name": "contact", "object": "Ana Lima"}}]',
    )
    changed = LogEntry(
        action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Adresse", "Nom"]}}]',
    )

    with translation.override("fr"):
        assert added.get_change_message() == "Ajout\xa0: contact «\xa0Ana Lima\xa0»."
        # "Modification de Adresse" was the slip.
        assert changed.get_change_message() == "Champs modifiés\xa0: Adresse et Nom."


def test_a_missing_record_is_reported_without_a_dangling_article(admin_user):
    response = _french(admin_user).get("/admin/crm/company/999999/change/", follow=True)

    (message,) = [str(m) for m in response.context["messages"]]
    assert message == (
        "L\u2019élément «\xa0999999\xa0» (entreprise) n\u2019existe pas. "
        "Peut-être a-t-il été supprimé\xa0?"
    )


def test_the_background_jobs_results_read_in_french(admin_user):
    # django-celery-results ships no French; failed jobs are read on this page.
    page = _french(admin_user).get("/admin/django_celery_results/taskresult/")

    html = page.content.decode()
    assert "Choisir l\u2019élément à modifier\xa0: résultat de traitement" in html
    assert "Nom du traitement" in html  # a column
    assert "Task Name" not in html


def test_a_read_only_page_shows_no_seen_version_row(rep, other_rep):
    company = CompanyFactory(owner=other_rep)

    page = _french(rep).get(f"/admin/crm/company/{company.pk}/change/")

    assert page.status_code == 200
    assert "Seen version" not in page.content.decode()
