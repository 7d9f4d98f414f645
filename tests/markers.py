"""Markers shared by the suite."""

import pytest
from django.db import connection

# Row locks (SELECT ... FOR UPDATE [SKIP LOCKED]) and truly concurrent writers
# exist only on PostgreSQL; SQLite's in-memory test database serialises writers
# by failing them, which proves nothing about production.
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: concurrent writers and row locks",
)
