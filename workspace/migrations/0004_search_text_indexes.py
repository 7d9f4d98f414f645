"""One GIN trigram index per searched table, on its search text, PostgreSQL only.

workspace/search.py matches every word against ``search_text`` (the generated
columns of leads 0015 and crm 0016) or a deal's ``title`` with ``ILIKE`` and
``%>``, both served by this one index. They replace 0002's indexes on
``UPPER(column)``: an OR over four per-column indexes was estimated too dear
and PostgreSQL scanned every lead instead, and an expression has no statistics,
so the planner misjudged how many rows a word matches (docs/benchmarks.md,
"Global search"). One index instead of four is also less work for every lead
written.
"""

from django.db import migrations

INDEXES = {
    "leads_lead": "search_text",
    "crm_contact": "search_text",
    "crm_company": "search_text",
    "pipeline_deal": "title",
}
# workspace 0002's indexes, replaced.
REPLACED = {
    "leads_lead": ("first_name", "last_name", "email", "company_name"),
    "crm_contact": ("first_name", "last_name", "email"),
    "crm_company": ("name", "domain"),
    "pipeline_deal": ("title",),
}


def _old_name(table: str, column: str) -> str:
    return f"search_{table}_{column}_trgm"[:63]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, columns in REPLACED.items():
        for column in columns:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{_old_name(table, column)}"')
    for table, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "search_{table}_trgm" ON "{table}" '
            f'USING gin ("{column}" gin_trgm_ops)'
        )


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "search_{table}_trgm"')
    for table, columns in REPLACED.items():
        for column in columns:
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{_old_name(table, column)}" '
                f'ON "{table}" USING gin (UPPER("{column}"::text) gin_trgm_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0003_saved_views"),
        ("leads", "0018_lead_search_text"),
        ("crm", "0017_company_contact_search_text"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
