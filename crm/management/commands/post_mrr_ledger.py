"""Post the MRR movements missing from the ledger; ``--check`` only reports drift."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.mrr_ledger import mrr_ledger_rebuild


class Command(BaseCommand):
    help = (
        "Recompute every customer's MRR movements from its subscriptions and "
        "append what the ledger lacks (0 rows: no drift). For subscriptions "
        "written around the services (a raw import, a data fix)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit with an error when the ledger has drifted.",
        )

    def handle(self, *args, check: bool, **options):
        with transaction.atomic():
            drift = mrr_ledger_rebuild()
            if check:
                transaction.set_rollback(True)
        if check and drift:
            raise CommandError(f"The MRR ledger lacks {drift} movement row(s).")
        verb = "would append" if check else "appended"
        self.stdout.write(f"MRR ledger: {verb} {drift} movement row(s).")
