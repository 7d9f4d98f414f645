"""The libraries' admin sections (knox's tokens, axes' sign-in audit, Django's
own permissions, search box and error pages) read in the reader's language:
French for a French admin, English as before for an English one."""

import datetime

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.utils import translation
from knox.models import AuthToken

from crm.api_errors import api_aware_500
from crm.models import OutboxEvent, WebhookEventType

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def _client(user, language) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        (
            "fr",
            ["Jetons d\u2019API", "Sécurité des connexions", "Tentatives de connexion"],
            ["Knox", "Axes", "Auth tokens", "Sign-in security"],
        ),
        ("en", ["API tokens", "Auth tokens", "Sign-in security"], ["Jetons"]),
    ],
)
def test_the_admin_index_names_the_libraries_sections_in_the_readers_language(
    admin_user, language, expected, absent
):
    index = _client(admin_user, language).get("/admin/").content.decode()

    for text in expected:
        assert text in index
    for text in absent:
        assert f">{text}<" not in index


@pytest.mark.parametrize(
    ("language", "columns"),
    [
        ("fr", ["Empreinte", "Utilisateur", "Créé le", "Expiration"]),
        ("en", ["Digest", "User", "Created", "Expiry"]),
    ],
)
def test_the_api_tokens_columns_and_form_read_in_the_readers_language(
    admin_user, language, columns
):
    AuthToken.objects.create(user=admin_user)  # the columns show over a row
    client = _client(admin_user, language)

    changelist = client.get("/admin/knox/authtoken/").content.decode()
    add = client.get("/admin/knox/authtoken/add/").content.decode()

    for column in columns:
        assert f">{column}</a>" in changelist or f">{column}</span>" in changelist
    assert f"{columns[-1]}" in add  # the expiry's label


@pytest.mark.parametrize(("language", "alt"), [("fr", "Rechercher"), ("en", "Search")])
def test_the_admin_search_icon_is_described_in_the_readers_language(
    admin_user, language, alt
):
    page = _client(admin_user, language).get("/admin/knox/authtoken/")

    assert f'alt="{alt}"' in page.content.decode()


def test_the_sign_in_audit_reads_in_french(admin_user, settings):
    with time_machine.travel(NOW, tick=False):
        # Signed in first: a sign-in makes axes clean the expired attempts.
        client = _client(admin_user, "fr")
        attempts = [
            AccessAttempt.objects.create(
                username=username,
                ip_address="192.0.2.1",
                user_agent="curl",
                http_accept="*/*",
                path_info="/admin/login/",
                get_data="",
                post_data="",
                failures_since_start=settings.AXES_FAILURE_LIMIT,
            )
            for username in ("ana", "bo")
        ]

    # Past the cool-off: both attempts have expired.
    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=False):
        page = client.get("/admin/axes/accessattempt/").content.decode()
        cleaned = client.post(
            "/admin/axes/accessattempt/",
            {
                "action": "cleanup_expired_attempts",
                "_selected_action": [attempt.pk for attempt in attempts],
            },
            follow=True,
        )

    assert "Par Verrouillé" in page  # axes' filter, which its French misses
    assert ">Statut</span>" in page  # axes' column, which has no label
    assert "Navigateur (user agent)" in page
    assert "Supprimer les tentatives expirées" in page  # the action
    (message,) = [str(m) for m in cleaned.context["messages"]]
    assert message == "2 tentatives de connexion expirées supprimées."


@pytest.mark.parametrize(
    ("language", "label"),
    [
        ("fr", "Peut ajouter\xa0: abonnement"),
        ("en", "Can add subscription"),
    ],
)
def test_the_permissions_picker_names_them_in_the_readers_language(
    admin_user, language, label
):
    # Django stores the names in English once; the picker names them again.
    client = _client(admin_user, language)

    user_page = client.get(f"/admin/crm/user/{admin_user.pk}/change/")
    group_page = client.get("/admin/auth/group/add/")

    for page in (user_page, group_page):
        assert label in page.content.decode()
    if language == "fr":
        assert "Can add" not in user_page.content.decode()


@pytest.mark.parametrize(
    ("language", "label"), [("fr", "Affaire créée"), ("en", "Deal created")]
)
def test_webhook_events_are_labelled_in_the_readers_language(
    admin_user, language, label
):
    OutboxEvent.objects.create(
        event_type=WebhookEventType.DEAL_CREATED, payload={}, created_at=NOW
    )

    page = _client(admin_user, language).get("/admin/crm/outboxevent/")

    assert label in page.content.decode()  # the column and the filter


@pytest.mark.parametrize(
    ("language", "title"), [("fr", "Page introuvable"), ("en", "Page not found")]
)
def test_a_missing_page_says_so_in_the_readers_language(rep, language, title):
    # Django's own 404 page is English whatever the language.
    page = _client(rep, language).get("/no-such-page/")

    assert page.status_code == 404
    assert f"<h1>{title}</h1>" in page.content.decode()


@pytest.mark.parametrize(
    ("language", "title"), [("fr", "Erreur du serveur"), ("en", "Server error")]
)
def test_a_server_error_page_speaks_the_readers_language(rf, language, title):
    # Rendered by the handler with no context: Django's own is English only.
    with translation.override(language):
        page = api_aware_500(rf.get("/leads/"))

    assert page.status_code == 500
    assert f"<h1>{title}</h1>" in page.content.decode()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "Connexion de alice le 02/03/2026 11:00"),
        ("en", "Sign-in of alice on"),
    ],
)
def test_axes_records_are_named_in_the_readers_language(language, expected):
    # axes' own names ("Access Log for alice @ 2026-03-02 10:00:00+00:00")
    # are the titles of its admin pages.
    from axes.models import AccessLog

    log = AccessLog(username="alice", attempt_time=NOW)
    with translation.override(language):
        assert str(log).startswith(expected)
    failed = AccessAttempt(username="alice", attempt_time=NOW, ip_address="10.0.0.1")
    with translation.override("fr"):
        assert str(failed) == "Tentative de connexion le 02/03/2026 11:00"
