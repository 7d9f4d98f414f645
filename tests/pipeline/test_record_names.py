"""Admin record names of deals' history and activities read in the reader's
language: labels rather than codes, dates in the locale's format and time zone
(the suite's is Europe/Paris)."""

import datetime

import pytest
from django.utils import translation

from pipeline.models import Activity, StageChange

AT = datetime.datetime(2025, 11, 25, 13, 30, tzinfo=datetime.UTC)  # 14:30 in Paris


@pytest.mark.parametrize(
    ("language", "planned", "done"),
    [
        ("en", "Call due 11/25/2025 2:30 p.m.", "Meeting on 11/25/2025 2:30 p.m."),
        ("fr", "Appel à faire le 25/11/2025 14:30", "Rendez-vous du 25/11/2025 14:30"),
    ],
)
def test_an_activity_is_named_by_kind_and_local_time(language, planned, done):
    with translation.override(language):
        assert str(Activity(kind="call", done=False, due_at=AT)) == planned
        assert str(Activity(kind="meeting", done=True, occurred_at=AT)) == done


@pytest.mark.parametrize(
    ("language", "created", "moved"),
    [
        (
            "en",
            "Deal #7: created in Prospection (Open)",
            "Deal #7: Prospection → Product presentation (Open)",
        ),
        (
            "fr",
            "Affaire n°\xa07\xa0: créée à l\u2019étape Prospection (Ouverte)",
            "Affaire n°\xa07\xa0: Prospection → Présentation du produit (Ouverte)",
        ),
    ],
)
def test_a_stage_change_names_stages_and_status_by_label(language, created, moved):
    first = StageChange(deal_id=7, to_stage="prospection", to_status="open")
    move = StageChange(
        deal_id=7,
        from_stage="prospection",
        to_stage="presentation",
        from_status="open",
        to_status="open",
    )
    with translation.override(language):
        assert str(first) == created
        assert str(move) == moved
