"""One GIN trigram index per searched table, on its search document, PostgreSQL only.

workspace/search.py matches every word against ``UPPER(search_text)`` (the
generated columns of leads 0015 and crm 0016) with ``LIKE`` and ``%>``, both
served by this one index; an OR over four per-column indexes was estimated too
dear and PostgreSQL scanned every lead instead (docs/benchmarks.md, "Global
search"). The per-column indexes of 0002 on those tables go: one index instead
of four is also less work for every lead written. The deal's title keeps its
0002 index (a deal's own searched text is its title alone).
"""

from django.db import migrations

TABLES = ("leads_lead", "crm_contact", "crm_company")
# workspace 0002's indexes that search_text replaces.
REPLACED = {
    "leads_lead": ("first_name", "last_name", "email", "company_name"),
    "crm_contact": ("first_name", "last_name", "email"),
    "crm_company": ("name", "domain"),
}


def index_name(table: str) -> str:
    return f"search_{table}_text_trgm"


def _create_text_indexes(schema_editor) -> None:
    for table in TABLES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{index_name(table)}" ON "{table}" '
            f'USING gin (UPPER("search_text") gin_trgm_ops)'
        )


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, columns in REPLACED.items():
        for column in columns:
            name = f"search_{table}_{column}_trgm"[:63]
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')
    _create_text_indexes(schema_editor)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index_name(table)}"')
    for table, columns in REPLACED.items():
        for column in columns:
            name = f"search_{table}_{column}_trgm"[:63]
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0003_saved_views"),
        ("leads", "0015_lead_search_text"),
        ("crm", "0016_company_contact_search_text"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
