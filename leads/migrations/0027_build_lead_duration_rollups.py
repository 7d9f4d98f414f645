"""Build the daily and monthly lead duration rollups from the leads there are.

In SQL, a range of leads at a time (``crm.rollups.rebuild``, the builder the
benchmark's bulk generation also calls). Reversing empties them.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from leads.rollups import DURATION_ROLLUPS

    for rollup in DURATION_ROLLUPS:
        rollups.rebuild(rollup.using_apps(apps))


def reverse(apps, schema_editor):
    for name in ("LeadDurationDaily", "LeadDurationMonthly"):
        apps.get_model("leads", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0026_lead_duration_rollups"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
