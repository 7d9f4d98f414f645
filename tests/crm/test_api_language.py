"""API clients choose the language of error messages with Accept-Language (a
token user's saved language otherwise); the field names, codes and choice
values stay English: they are the contract."""

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _deal(client) -> int:
    return client.post(
        "/api/v1/deals/",
        {"title": "Renewal", "channel": "outbound", "amount": "10"},
        format="json",
    ).json()["id"]


def test_a_domain_refusal_is_french_when_asked(api_as, rep):
    client = api_as(rep)
    response = client.post(
        f"/api/v1/deals/{_deal(client)}/move/",
        {"stage": "prospection"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 400
    assert response["Content-Language"] == "fr"
    (error,) = response.json()["errors"]
    assert error["attr"] == "stage"  # field names are not translated
    assert (
        error["detail"]
        == "Cette affaire est déjà à l\u2019étape «\xa0Prospection\xa0»."
    )


def test_english_by_default(api_as, rep):
    client = api_as(rep)
    response = client.post(
        f"/api/v1/deals/{_deal(client)}/move/", {"stage": "prospection"}, format="json"
    )
    (error,) = response.json()["errors"]
    assert error["detail"] == "This deal is already in Prospection."


def test_a_conflict_and_a_missing_field_in_french(api_as, rep):
    client = api_as(rep)
    deal = _deal(client)
    response = client.post(
        f"/api/v1/deals/{deal}/win/", {}, format="json", HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert response.status_code == 409
    detail = response.json()["errors"][0]["detail"]
    assert detail.startswith(
        "Une affaire ne se gagne qu\u2019à l\u2019étape Conclusion"
    )
    # Choice values stay English in the body, whatever the language.
    assert (
        client.get(f"/api/v1/deals/{deal}/", HTTP_ACCEPT_LANGUAGE="fr").json()["stage"]
        == "prospection"
    )

    response = client.post(
        "/api/v1/deals/", {}, format="json", HTTP_ACCEPT_LANGUAGE="fr"
    )
    errors = {e["attr"]: e["detail"] for e in response.json()["errors"]}
    assert errors["title"] == "Ce champ est obligatoire."


def test_an_unauthenticated_call_is_refused_in_french(anon_api):
    response = anon_api.get("/api/v1/deals/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code in (401, 403)
    assert "authentification" in response.json()["errors"][0]["detail"].lower()


# --- API tokens: the saved language applies, an explicit header wins ----------


def _token_client(user, language: str) -> APIClient:
    user.language = language
    user.save(update_fields=["language"])
    _instance, token = AuthToken.objects.create(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _refusal(client, **headers):
    return client.post("/api/v1/deals/", {}, format="json", **headers)


def test_a_token_users_saved_language_applies_without_a_header(rep):
    response = _refusal(_token_client(rep, "fr"))

    assert response.status_code == 400
    assert response["Content-Language"] == "fr"
    errors = {e["attr"]: e["detail"] for e in response.json()["errors"]}
    assert errors["title"] == "Ce champ est obligatoire."


@pytest.mark.parametrize(
    ("saved", "header", "spoken"),
    [
        ("fr", "en", "en"),  # the integration asked for English on this call
        ("en", "fr-FR,fr;q=0.9", "fr"),
        ("fr", "de", "fr"),  # a language we do not speak: the saved one
        ("", "", "en"),  # neither: English
    ],
)
def test_an_explicit_accept_language_wins_over_the_saved_language(
    rep, saved, header, spoken
):
    headers = {"HTTP_ACCEPT_LANGUAGE": header} if header else {}

    response = _refusal(_token_client(rep, saved), **headers)

    assert response["Content-Language"] == spoken
    title = {e["attr"]: e["detail"] for e in response.json()["errors"]}["title"]
    assert (
        title
        == {
            "en": "This field is required.",
            "fr": "Ce champ est obligatoire.",
        }[spoken]
    )
