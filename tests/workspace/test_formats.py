"""Amounts, counts and dates in the reader's language on the rep's pages; the
CSV export keeps machine formats (ISO dates, dot decimals) in any language."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
import time_machine

pytestmark = pytest.mark.django_db

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr"}
# Babel's French: a narrow no-break space groups thousands, a no-break space
# comes before the currency sign.
FRENCH_AMOUNT = "1\u202f234\u202f567,89\xa0€"
ENGLISH_AMOUNT = "€1,234,567.89"


@pytest.fixture
def deal(rep, make_deal):
    return make_deal(
        rep,
        amount=Decimal("1234567.89"),
        currency="EUR",
        expected_close_on=datetime.date(2026, 12, 15),
    )


@pytest.mark.parametrize(
    ("headers", "amount", "day"),
    [({}, ENGLISH_AMOUNT, "12/15/2026"), (FRENCH, FRENCH_AMOUNT, "15/12/2026")],
)
def test_the_deal_page_writes_amount_and_date_for_the_reader(
    client_for, rep, deal, headers, amount, day
):
    html = client_for(rep).get(f"/deals/{deal.pk}/", **headers).content.decode()
    assert amount in html
    assert day in html


@pytest.mark.parametrize(
    ("headers", "amount", "probability", "closes"),
    [
        ({}, ENGLISH_AMOUNT, "10%", "closes 12/15/2026"),
        (FRENCH, FRENCH_AMOUNT, "10\xa0%", "conclusion le 15/12/2026"),
    ],
)
def test_the_board_writes_amounts_rates_and_dates_for_the_reader(
    client_for, rep, deal, headers, amount, probability, closes
):
    html = client_for(rep).get("/pipeline/", **headers).content.decode()
    # The card and its column's total.
    assert html.count(amount) >= 2
    assert f"{amount} · {probability}" in html
    assert closes in html


@time_machine.travel(datetime.datetime(2026, 12, 1, 9, tzinfo=datetime.UTC))
def test_today_names_the_month_in_french(client_for, rep, deal):
    html = client_for(rep).get("/", **FRENCH).content.decode()
    assert "Mes affaires à conclure en décembre 2026" in html
    assert FRENCH_AMOUNT in html


def test_the_csv_export_keeps_machine_formats_in_french(api_as, rep, deal):
    response = api_as(rep).get("/api/v1/deals/export/", HTTP_ACCEPT_LANGUAGE="fr")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["amount"] == "1234567.89"
    assert row["expected_close_on"] == "2026-12-15"
    assert row["stage"] == "prospection"
