"""Build the daily new-lead rollup from the leads there are.

In SQL, a range of leads at a time (``crm.rollups.rebuild``, the builder the
benchmark's bulk generation also calls). Reversing empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from leads.rollups import NEW_LEADS

    rollups.rebuild(NEW_LEADS.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("leads", "NewLeadDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0022_new_lead_daily"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
