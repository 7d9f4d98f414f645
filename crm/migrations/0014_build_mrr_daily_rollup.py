"""Build the daily MRR rollup from the ledger posted so far.

In SQL, a range of ledger rows at a time (``crm.rollups.rebuild``, the builder
the benchmark's bulk generation also calls). Reversing empties the rollup.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups

    rollups.rebuild(rollups.MRR.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("crm", "MrrDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_mrr_daily_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
