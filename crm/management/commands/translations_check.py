"""Fail when a string marked for translation has no French translation.

``make lint`` runs it. It extracts the marked strings afresh (``makemessages``)
into a copy of each catalogue in a temporary folder, so a string marked since
the last ``makemessages`` counts as untranslated, and the tree is left as it
was. A fuzzy entry (msgmerge's guess, never reviewed) counts as untranslated:
Django does not use it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

# Folders that hold no source of ours (a symlinked or real virtualenv, assets).
IGNORED = [".venv", "node_modules", "staticfiles", "tests", "bench", "media"]
MAKEMESSAGES_OPTIONS = {
    "ignore_patterns": IGNORED,
    "no_obsolete": True,
    "add_location": "file",
}


def catalogue_problems(po_path: Path) -> list[str]:
    """Return one line per untranslated or fuzzy entry of a ``.po`` file."""
    catalogue = polib.pofile(str(po_path))
    problems = [
        f"untranslated: {entry.msgid!r}" for entry in catalogue.untranslated_entries()
    ]
    problems += [f"fuzzy: {entry.msgid!r}" for entry in catalogue.fuzzy_entries()]
    return problems


class Command(BaseCommand):
    help = "Check that every marked string has a reviewed translation (make lint)."

    def handle(self, *args, **options) -> None:
        locale_root = Path(settings.LOCALE_PATHS[0])
        languages = [code for code, _name in settings.LANGUAGES if code != "en"]
        with tempfile.TemporaryDirectory() as scratch:
            problems = []
            for language in languages:
                source = locale_root / language / "LC_MESSAGES" / "django.po"
                copy = Path(scratch) / language / "LC_MESSAGES" / "django.po"
                copy.parent.mkdir(parents=True)
                if source.exists():
                    shutil.copy(source, copy)
                with override_settings(LOCALE_PATHS=[scratch]):
                    call_command(
                        "makemessages",
                        locale=[language],
                        verbosity=0,
                        **MAKEMESSAGES_OPTIONS,
                    )
                problems += [f"{language}: {line}" for line in catalogue_problems(copy)]
        if problems:
            raise CommandError(
                "Translations missing (run `make messages` and translate them):\n"
                + "\n".join(problems)
            )
        self.stdout.write(
            f"Every marked string is translated ({', '.join(languages)})."
        )
