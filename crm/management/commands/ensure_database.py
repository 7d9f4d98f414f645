"""Create the PostgreSQL database of DATABASE_URL if it does not exist yet.

``make serve`` runs it before ``migrate``, so a fresh clone serves with one
command. It connects to the server's ``postgres`` database with the same user,
host and port; other databases need no creating (SQLite creates its file).
"""

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql


class Command(BaseCommand):
    help = "Create the PostgreSQL database named by DATABASE_URL if it is missing."

    def handle(self, *args, **options):
        settings = connections[DEFAULT_DB_ALIAS].settings_dict
        if settings["ENGINE"] != "django.db.backends.postgresql":
            return
        name = settings["NAME"]
        params = {
            "dbname": "postgres",
            "user": settings["USER"] or None,
            "password": settings["PASSWORD"] or None,
            "host": settings["HOST"] or None,
            "port": settings["PORT"] or None,
        }
        try:
            with psycopg.connect(
                **{k: v for k, v in params.items() if v}, autocommit=True
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]
                ).fetchone()
                if exists:
                    return
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            msg = f"Cannot reach PostgreSQL to create {name}: {exc}"
            raise CommandError(msg) from exc
        self.stdout.write(f"Created database {name}.")
