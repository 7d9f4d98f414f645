"""Post the MRR movements and customer changes missing from the ledgers;
``--check`` only reports drift."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.mrr_ledger import customer_ledger_rebuild, mrr_ledger_rebuild


class Command(BaseCommand):
    help = (
        "Recompute every customer's MRR movements and customer changes from "
        "its subscriptions and append what the ledgers lack (0 rows: no "
        "drift). For subscriptions written around the services (a raw "
        "import, a data fix)."
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
            customer_drift = customer_ledger_rebuild()
            if check:
                transaction.set_rollback(True)
        if check and (drift or customer_drift):
            raise CommandError(
                f"The MRR ledger lacks {drift} movement row(s), the customer "
                f"ledger {customer_drift} change row(s)."
            )
        verb = "would append" if check else "appended"
        self.stdout.write(f"Customer ledger: {verb} {customer_drift} change row(s).")
        self.stdout.write(f"MRR ledger: {verb} {drift} movement row(s).")
