"""Build the daily lead status rollup from the history written so far.

In SQL, a range of history rows at a time (``crm.rollups.rebuild``, the
builder the benchmark's bulk generation also calls). Reversing empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from leads.rollups import LEAD_STATUS

    rollups.rebuild(LEAD_STATUS.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("leads", "LeadStatusDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0016_lead_status_daily_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
