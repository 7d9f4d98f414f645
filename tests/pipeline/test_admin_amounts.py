"""Amounts in the admin are shown and typed in the reader's language and stored
as exact decimals: ``18 000,00`` in French, ``18,000.00`` in English."""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from pipeline.models import Deal

pytestmark = pytest.mark.django_db

NNBSP = "\u202f"
ADD = "/admin/pipeline/deal/add/"


def _client(user, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def _add(client, amount: str):
    return client.post(
        ADD,
        {
            "title": "Renewal",
            "owner": client.session["_auth_user_id"],
            "channel": "outbound",
            "amount": amount,
            "currency": "EUR",
            "stage": "presentation",
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
        },
    )


@pytest.mark.parametrize(
    ("language", "typed"),
    [
        ("fr", "18 000,00"),  # a plain space, as typed
        ("fr", f"18{NNBSP}000,00"),  # as the page writes it
        ("fr", "18000,00"),
        ("en", "18,000.00"),
        ("en", "18000"),
    ],
)
def test_an_amount_typed_in_the_readers_language_is_stored_exactly(
    rep, language, typed
):
    response = _add(_client(rep, language), typed)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Deal.objects.get().amount == Decimal("18000.00")


@pytest.mark.parametrize(
    ("language", "shown"),
    [("fr", f"18{NNBSP}000,50"), ("en", "18,000.50")],
)
def test_the_change_page_shows_the_amount_as_the_reader_writes_it_and_takes_it_back(
    rep, make_deal, language, shown
):
    deal = make_deal(rep, amount="18000.50", currency="EUR")
    client = _client(rep, language)
    url = f"/admin/pipeline/deal/{deal.pk}/change/"

    response = client.get(url)
    page = response.content.decode()
    typed = re.search(r'name="amount" value="([^"]*)"', page).group(1)
    form = response.context["adminform"].form
    # The page posted back as shown: every field as its input shows it.
    shown_fields = {name: form[name].value() for name in form.fields}
    # A callable default (the currency) travels with a hidden initial value.
    shown_fields |= {
        f"initial-{name}": form[name].value()
        for name, field in form.fields.items()
        if field.show_hidden_initial
    }
    saved = client.post(
        url,
        {
            **{k: "" if v is None else v for k, v in shown_fields.items()},
            "amount": typed,
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
        },
    )

    assert typed == shown
    assert 'inputmode="decimal"' in page
    assert saved.status_code == 302
    deal.refresh_from_db()
    assert deal.amount == Decimal("18000.50")
    # The admin's history: the form saw no field changed, the amount included.
    assert LogEntry.objects.get().change_message == "[]"


@pytest.mark.parametrize(
    ("language", "typed", "message"),
    [
        # "1,5" is not fifteen in English: a misplaced grouping is refused.
        ("en", "1,5", "Enter a number as you would write it, for example 18,000.00."),
        (
            "fr",
            "1.000,50",
            "Saisissez un nombre comme vous l\u2019écririez, par exemple "
            f"18{NNBSP}000,00.",
        ),
    ],
)
def test_a_number_written_another_way_is_a_form_error(rep, language, typed, message):
    response = _add(_client(rep, language), typed)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["amount"] == [message]
    assert not Deal.objects.exists()
