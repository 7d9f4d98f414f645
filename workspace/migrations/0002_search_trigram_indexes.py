"""GIN trigram indexes for the global search (workspace/search.py), PostgreSQL only.

Each is on UPPER(column): the search's substring test (Django's ``icontains``,
``UPPER(col) LIKE UPPER('%term%')``) and its typo test (``UPPER(col) %> 'TERM'``)
both read that expression, so one index per column serves both. They are not
declared in the models' ``Meta``: a GIN index cannot be created on SQLite.
"""

from django.db import migrations

INDEXES = {
    "leads_lead": ("first_name", "last_name", "email", "company_name"),
    "crm_contact": ("first_name", "last_name", "email"),
    "crm_company": ("name", "domain"),
    "pipeline_deal": ("title",),
}


def _names():
    for table, columns in INDEXES.items():
        for column in columns:
            yield table, column, f"search_{table}_{column}_trgm"[:63]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, name in _names():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, name in _names():
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0001_pg_trgm"),
        ("leads", "0001_initial"),
        ("crm", "0001_initial"),
        ("pipeline", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
