"""Recompute every daily rollup from its ledger and report any drift."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm import rollups
from crm.mrr_ledger import spells_drift, spells_write


class Command(BaseCommand):
    help = (
        "Recompute each rollup (crm.rollups.REGISTRY) from its ledger, in SQL, "
        "and compare it with the stored rows, then the customer spells with "
        "the customer ledger. Exits with an error on any drift (none "
        "expected: the services keep them in their transactions); --rebuild "
        "rewrites what drifted from the ledgers."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Rebuild a rollup that drifted (after reporting it).",
        )
        parser.add_argument(
            "--show", type=int, default=10, help="Drifted keys to print per rollup."
        )

    def handle(self, *args, rebuild: bool, show: int, **options):
        drifted = 0
        for key, rollup in rollups.REGISTRY.items():
            started = time.monotonic()
            self.stdout.write(f"{key}: {rollup.name} ...")
            differences = list(
                rollups.drift(
                    rollup,
                    progress=lambda read, key=key: self.stdout.write(
                        f"  {key}: {read:,} rows read"
                    ),
                )
            )
            for row_key, have, want in differences[:show]:
                key_text = " ".join(map(str, row_key))
                self.stdout.write(
                    f"  {key_text}: stored {' '.join(map(str, have))}, "
                    f"recomputed {' '.join(map(str, want))}"
                )
            seconds = time.monotonic() - started
            self.stdout.write(
                f"{key}: {len(differences)} drifted key(s) in {seconds:.1f} s"
            )
            if differences and rebuild:
                rollups.rebuild(rollup)
                self.stdout.write(f"{key}: rebuilt from the ledger")
            drifted += len(differences)
        drifted += self._spells(rebuild=rebuild, show=show)
        if drifted and not rebuild:
            raise CommandError(f"{drifted} rollup key(s) drifted from the ledgers.")
        self.stdout.write("No drift." if not drifted else "Rebuilt what drifted.")

    def _spells(self, *, rebuild: bool, show: int) -> int:
        """Compare the customer spells with the customer ledger (a projection
        of it, not a sum: crm.mrr_ledger.spells_drift)."""
        started = time.monotonic()
        self.stdout.write("customer_spells: Customer spells (crm.CustomerSpell) ...")
        drifted = spells_drift()
        for company_id in sorted(drifted)[:show]:
            self.stdout.write(f"  company {company_id}: spells differ from its ledger")
        seconds = time.monotonic() - started
        self.stdout.write(
            f"customer_spells: {len(drifted)} drifted key(s) in {seconds:.1f} s"
        )
        if drifted and rebuild:
            with transaction.atomic():
                spells_write(drifted)
            self.stdout.write("customer_spells: rewritten from the ledger")
        return len(drifted)
