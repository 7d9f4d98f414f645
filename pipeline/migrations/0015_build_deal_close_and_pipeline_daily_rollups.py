"""Build the daily rollups of deal closes and of the pipeline by stage from
the stage history written so far.

In SQL, a range of history rows at a time (``crm.rollups.rebuild``, the
builder the benchmark's bulk generation also calls). Reversing empties them.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from pipeline.rollups import CLOSES, PIPELINE

    # The rollups of this migration's tables (later ones build their own).
    for rollup in (CLOSES, PIPELINE):
        rollups.rebuild(rollup.using_apps(apps))


def reverse(apps, schema_editor):
    for name in ("DealCloseDaily", "PipelineDaily"):
        apps.get_model("pipeline", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0014_deal_close_and_pipeline_daily_rollups"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
