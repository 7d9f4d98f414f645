"""Build the monthly pipeline rollup (and its running total) from the stage
history written so far, as ``crm.rollups.rebuild`` builds every rollup.
Reversing empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from pipeline.rollups import PIPELINE_MONTHS

    rollups.rebuild(PIPELINE_MONTHS.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("pipeline", "PipelineMonthly").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0021_pipeline_monthly_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
