"""Build the cold-call rollup (per caller and for everyone) from the
activities logged so far, as ``crm.rollups.rebuild`` builds every rollup.
Reversing empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from pipeline.rollups import COLD_CALLS

    rollups.rebuild(COLD_CALLS.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("pipeline", "ColdCallDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0027_cold_call_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
