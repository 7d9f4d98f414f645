"""`make lint` refuses a marked string without a reviewed French translation."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.management.commands.translations_check import catalogue_problems

FIXTURE = Path(__file__).parent / "fixtures" / "tiny.po"
CATALOGUE = Path(__file__).resolve().parents[2] / "locale/fr/LC_MESSAGES/django.po"


def test_the_check_names_untranslated_fuzzy_and_half_plural_entries():
    assert catalogue_problems(FIXTURE) == [
        "untranslated: 'Pipeline board'",
        "untranslated: '%(count)d deal won.'",
        "fuzzy: 'Cold calls'",
    ]


def test_the_committed_french_catalogue_is_complete():
    assert catalogue_problems(CATALOGUE) == []


def test_the_command_fails_on_a_string_marked_but_not_translated(tmp_path):
    # A catalogue that lacks most strings: the fresh extraction adds every
    # marked one as untranslated, and the tree's own catalogue is left alone.
    (tmp_path / "fr" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "fr" / "LC_MESSAGES" / "django.po").write_bytes(FIXTURE.read_bytes())
    before = CATALOGUE.read_bytes()
    with pytest.raises(CommandError) as refusal:
        call_command("translations_check", catalogues=tmp_path)
    assert "fr: untranslated: 'Pipeline board'" in str(refusal.value)
    assert "fr: untranslated: 'Log out'" in str(refusal.value)
    assert CATALOGUE.read_bytes() == before


def test_the_command_passes_on_the_committed_catalogue():
    before = CATALOGUE.read_bytes()
    call_command("translations_check")
    assert CATALOGUE.read_bytes() == before
