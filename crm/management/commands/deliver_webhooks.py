"""Send due webhook deliveries; runs until stopped, or one pass with ``--once``."""

import time

from django.core.management.base import BaseCommand

from crm.webhooks import deliver_due


class Command(BaseCommand):
    help = "Deliver pending webhook events (several workers may run at once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--batch", type=int, default=20)
        parser.add_argument(
            "--idle-seconds", type=float, default=1.0, help="Sleep when nothing is due."
        )

    def handle(self, *args, once: bool, batch: int, idle_seconds: float, **options):
        total = 0
        try:
            while True:
                sent = deliver_due(batch=batch)
                total += sent
                if once and sent < batch:
                    break
                if not sent:
                    time.sleep(idle_seconds)
        except KeyboardInterrupt:
            pass
        self.stdout.write(f"{total} delivery attempt(s).")
