"""Load deterministic demo data: each app contributes through its ``demo`` module.

Apps are found through INSTALLED_APPS (like the admin's autodiscovery), so this
command in ``crm`` imports no app that depends on it. Each ``demo.seed`` is
idempotent: running the command twice changes nothing the second time.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.demo_context import DEMO_PASSWORD, DemoContext

PROJECT_APPS = ("crm", "leads", "pipeline", "metrics")


class Command(BaseCommand):
    help = "Load deterministic demo data (users, teams, companies, leads, deals)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--size", type=int, default=1, help="Scale factor for the amount of data."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed.")

    def handle(self, *args, size: int, seed: int, verbosity: int, **options):
        if not settings.DEBUG:
            # The demo users, a superuser among them, share a password printed
            # in this repository: never on a production database.
            raise CommandError(
                "seed_demo creates users with the published demo password: it "
                "runs only in development (DEBUG=true)."
            )
        ctx = DemoContext(size=max(size, 1), seed=seed, quiet=verbosity == 0)
        for config in apps.get_app_configs():
            if config.name not in PROJECT_APPS or not find_spec(f"{config.name}.demo"):
                continue
            module = import_module(f"{config.name}.demo")
            with transaction.atomic():
                summary = module.seed(ctx)
            if verbosity:
                self.stdout.write(f"{config.label}: {summary}")
        if verbosity:
            self.print_logins()

    def print_logins(self) -> None:
        from crm.models import User

        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo logins (password for all: {DEMO_PASSWORD}, demo only):"
            )
        )
        for user in User.objects.filter(username__in=DEMO_USERNAMES).order_by("role"):
            role = "admin" if user.is_superuser else user.get_role_display()
            self.stdout.write(f"  {user.username:<12} {role}")


DEMO_USERNAMES = [
    "admin",
    "maria",
    "marc",
    "alice",
    "bob",
    "chloe",
    "david",
    "emma",
    "farid",
    "integration",
]
