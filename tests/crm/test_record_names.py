"""Admin record names of the core app read in the reader's language: money by
the locale (crm.formatting), dates by Django's formats, choices by label."""

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from crm.models import Company, DeliveryAttempt, MrrMovement

NNBSP = "\u202f"
NBSP = "\xa0"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Acme, 11/25/2025: New €1,490.00"),
        ("fr", f"Acme, 25/11/2025{NBSP}: Nouveau 1{NNBSP}490,00{NBSP}€"),
    ],
)
def test_an_mrr_movement_writes_its_kind_money_and_date_for_the_reader(
    language, expected
):
    movement = MrrMovement(
        company=Company(name="Acme"),
        kind="new",
        amount=Decimal("1490.00"),
        currency="EUR",
        effective_on=datetime.date(2025, 11, 25),
    )
    with translation.override(language):
        assert str(movement) == expected


@pytest.mark.parametrize(
    ("language", "refused", "answered"),
    [
        ("en", "Delivery #3: No answer in time", "Delivery #3: HTTP 502"),
        (
            "fr",
            f"Livraison n°{NBSP}3{NBSP}: Pas de réponse à temps",
            f"Livraison n°{NBSP}3{NBSP}: HTTP 502",
        ),
    ],
)
def test_a_delivery_attempt_names_its_error_class_by_label(language, refused, answered):
    with translation.override(language):
        assert str(DeliveryAttempt(delivery_id=3, error="timeout")) == refused
        assert str(DeliveryAttempt(delivery_id=3, status_code=502)) == answered
