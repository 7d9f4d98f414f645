"""Indexes for the lead KPIs' medians, PostgreSQL only.

The median time to qualify and the median response time count a period's
leads per whole hour or minute of the duration, then rank only the rows of
the hour or minute holding the median (``metrics.kpis.numbers.durations``).
These indexes lead with that truncated duration, the same expression as the
query's, so the ranking reads one unit's entries of the period instead of the
period's every lead. They are not declared in the models' ``Meta``: the
expression is PostgreSQL's ``date_trunc`` (SQLite computes it with Django's
own function, which an index cannot hold), and the ranking there reads the
period's rows.
"""

from django.db import migrations

INDEXES = {
    # lead_kpis, the median time to qualify.
    "lead_qualify_hours": (
        "(date_trunc('hour', qualified_at - became_lead_at)), became_lead_at",
        "qualified_at, owner_id, channel",
        "qualified_at IS NOT NULL",
    ),
    # lead_kpis, the median response time of the answered inbound leads.
    "lead_response_minutes": (
        "(date_trunc('minute', first_response_at - became_lead_at)), became_lead_at",
        "first_response_at, owner_id",
        "channel = 'inbound' AND first_response_at IS NOT NULL",
    ),
}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (columns, include, condition) in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "leads_lead" ({columns}) '
            f"INCLUDE ({include}) WHERE {condition}"
        )


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("leads", "0024_prospects_added_index")]

    operations = [migrations.RunPython(forward, reverse)]
