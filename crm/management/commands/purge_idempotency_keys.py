"""Delete idempotency keys older than 24 hours (run it hourly from cron)."""

from django.core.management.base import BaseCommand

from crm.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key results older than 24 hours."

    def handle(self, *args, **options):
        deleted = purge_expired()
        self.stdout.write(f"Deleted {deleted} expired idempotency key(s).")
