"""Fail when a string marked for translation has no French translation.

``make lint`` runs it. It extracts the marked strings afresh (``makemessages``)
in a copy of the source tree, merged into a copy of each catalogue, so a string
marked since the last ``make messages`` counts as untranslated and the tree is
left as it was (``makemessages`` writes into every ``locale`` folder it finds
under the current directory, whatever ``LOCALE_PATHS`` says). A fuzzy entry
(msgmerge's guess, never reviewed) counts as untranslated: Django ignores it.
"""

from __future__ import annotations

import shutil
import subprocess  # nosec B404 - runs this project's own manage.py
import sys
import tempfile
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# Folders that hold no source of ours (a symlinked or real virtualenv, assets).
IGNORED = [".venv", "node_modules", "staticfiles", "tests", "bench", "media"]
MAKEMESSAGES = [
    "makemessages",
    "--no-obsolete",
    "--add-location=file",
    *(f"--ignore={name}" for name in IGNORED),
]


def catalogue_problems(po_path: Path) -> list[str]:
    """Return one line per untranslated or fuzzy entry of a ``.po`` file."""
    catalogue = polib.pofile(str(po_path))
    problems = [
        f"untranslated: {entry.msgid!r}" for entry in catalogue.untranslated_entries()
    ]
    problems += [f"fuzzy: {entry.msgid!r}" for entry in catalogue.fuzzy_entries()]
    return problems


def _catalogue(root: Path, language: str) -> Path:
    return root / language / "LC_MESSAGES" / "django.po"


class Command(BaseCommand):
    help = "Check that every marked string has a reviewed translation (make lint)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--catalogues",
            type=Path,
            default=Path(settings.LOCALE_PATHS[0]),
            help="The folder of the catalogues to check (default: LOCALE_PATHS).",
        )

    def handle(self, *args, catalogues: Path, **options) -> None:
        languages = [code for code, _name in settings.LANGUAGES if code != "en"]
        problems = []
        with tempfile.TemporaryDirectory() as scratch:
            tree = Path(scratch) / "tree"
            shutil.copytree(
                settings.BASE_DIR,
                tree,
                ignore=shutil.ignore_patterns(
                    *IGNORED, ".git", "locale", "__pycache__", "*.sqlite3"
                ),
            )
            for language in languages:
                copy = _catalogue(tree / "locale", language)
                copy.parent.mkdir(parents=True)
                if _catalogue(catalogues, language).exists():
                    shutil.copy(_catalogue(catalogues, language), copy)
                subprocess.run(  # noqa: S603  # nosec B603 - fixed argv, no shell
                    [
                        sys.executable,
                        "manage.py",
                        *MAKEMESSAGES,
                        f"--locale={language}",
                    ],
                    cwd=tree,
                    check=True,
                    capture_output=True,
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
