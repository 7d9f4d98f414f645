"""A database of its own for the benchmark, created and dropped around the run.

Django's test-database machinery does exactly this: on PostgreSQL it creates
``<name>_bench`` on the server of ``DATABASE_URL``, ``<name>`` being the
database named there (never touched), and migrates it; on SQLite it uses a
temporary file. Each person's ``DATABASE_URL`` names their own database, so two
people benchmarking on one server never drop each other's bench database.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def bench_database_name(name: str) -> str:
    """Return the bench database's name for the database named ``name``."""
    # PostgreSQL truncates identifiers to 63 bytes: keep the suffix visible.
    return f"{name[: 63 - len('_bench')]}_bench"


def is_test_database(name: str) -> bool:
    """Return True for a database the test runner made (never the user's)."""
    return os.path.basename(name).startswith("test") or "mode=memory" in name


@contextmanager
def bench_database(*, keep: bool, in_place: bool) -> Iterator[str]:
    """Yield the name of the database the run writes to; drop it afterwards.

    ``in_place`` uses the current database as it is (the test suite's test
    database); ``keep`` leaves the bench database behind for investigation.
    """
    if in_place:
        name = str(connection.settings_dict["NAME"])
        if not is_test_database(name):
            raise ValueError(
                f"--in-place writes synthetic rows into {name!r}: only a test "
                "database (test_*, in-memory SQLite) is accepted."
            )
        yield name
        return
    old_name = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    old_test_name = test_settings.get("NAME")
    temp_dir = None
    if connection.vendor == "sqlite":
        temp_dir = tempfile.mkdtemp(prefix="crm-bench-")
        test_settings["NAME"] = os.path.join(temp_dir, "bench.sqlite3")
    else:
        test_settings["NAME"] = bench_database_name(str(old_name))
    try:
        name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False
        )
        try:
            yield name
        finally:
            if not keep:
                connection.creation.destroy_test_db(old_name, verbosity=0)
            else:
                connection.close()
                connection.settings_dict["NAME"] = old_name
    finally:
        test_settings["NAME"] = old_test_name
        if temp_dir is not None and not keep:
            for entry in os.listdir(temp_dir):
                os.remove(os.path.join(temp_dir, entry))
            os.rmdir(temp_dir)
