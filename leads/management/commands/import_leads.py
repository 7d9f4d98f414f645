"""``python manage.py import_leads FILE.csv``: see leads.importing and docs/leads.md."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.models import User
from leads.importing import ImportMode, leads_import


class Command(BaseCommand):
    help = (
        "Import prospects and leads from a CSV file; duplicates are merged by e-mail."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file with a header row (UTF-8).")
        parser.add_argument(
            "--mode",
            choices=[mode.value for mode in ImportMode],
            default=ImportMode.ALL_OR_NOTHING.value,
            help="all-or-nothing (default): any bad row cancels the import; "
            "keep-valid: save the good rows and report the others.",
        )
        parser.add_argument(
            "--owner", help="Username owning the rows without an owner column value."
        )
        parser.add_argument("--encoding", default="utf-8-sig")

    def handle(self, *args, file, mode, owner, encoding, verbosity, **options):
        default_owner = None
        if owner:
            default_owner = User.objects.filter(username=owner, is_active=True).first()
            if default_owner is None:
                raise CommandError(f"No active user '{owner}'.")
        try:
            with open(file, encoding=encoding, newline="") as stream:
                report = leads_import(
                    file=stream,
                    by=None,  # an operator at the shell may assign anyone
                    mode=ImportMode(mode),
                    default_owner=default_owner,
                    progress=verbosity > 0,
                )
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        for rejected in report.rejected:
            self.stderr.write(f"line {rejected.line}: {rejected.reason}")
        if not report.saved:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
