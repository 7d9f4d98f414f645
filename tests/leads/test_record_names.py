"""Admin record names of leads' history read in the reader's language: labels
rather than codes, dates in the locale's format and time zone."""

import datetime

import pytest
from django.utils import translation

from leads.models import (
    ConsentRecord,
    Lead,
    LeadStatusChange,
    Qualification,
    Touch,
)

AT = datetime.datetime(2025, 11, 24, 23, 30, tzinfo=datetime.UTC)  # the 25th in Paris


def _lead() -> Lead:
    return Lead(first_name="Ana", last_name="Lima")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Ana Lima: Content download on 11/25/2025"),
        ("fr", "Ana Lima\xa0: Téléchargement de contenu le 25/11/2025"),
    ],
)
def test_a_touch_is_named_by_source_and_local_date(language, expected):
    touch = Touch(lead=_lead(), source="content_download", occurred_at=AT)
    with translation.override(language):
        assert str(touch) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Ana Lima: Given on 11/25/2025"),
        ("fr", "Ana Lima\xa0: Donné le 25/11/2025"),
    ],
)
def test_a_consent_record_is_named_by_action_and_local_date(language, expected):
    record = ConsentRecord(lead=_lead(), action="given", recorded_at=AT)
    with translation.override(language):
        assert str(record) == expected


@pytest.mark.parametrize(
    ("language", "created", "qualified", "decision"),
    [
        (
            "en",
            "Record #4: created as Prospect",
            "Record #4: Lead → Qualified",
            "Ana Lima: Qualified (score 80)",
        ),
        (
            "fr",
            "Fiche n°\xa04\xa0: créée au statut Prospect",
            "Fiche n°\xa04\xa0: Lead → Qualifié",
            "Ana Lima\xa0: Qualifié (score 80)",
        ),
    ],
)
def test_status_changes_and_decisions_name_statuses_by_label(
    language, created, qualified, decision
):
    with translation.override(language):
        assert str(LeadStatusChange(lead_id=4, to_status="prospect")) == created
        assert (
            str(LeadStatusChange(lead_id=4, from_status="lead", to_status="qualified"))
            == qualified
        )
        assert (
            str(Qualification(lead=_lead(), decision="qualified", score=80)) == decision
        )


def test_a_lead_without_name_or_email_is_named_by_number():
    with translation.override("fr"):
        assert str(Lead(pk=12)) == "Lead n°\xa012"
