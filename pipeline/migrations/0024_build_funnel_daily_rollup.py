"""Build the daily funnel rollup from the deals written so far, as
``crm.rollups.rebuild`` builds every rollup. Reversing empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from pipeline.rollups import FUNNEL

    rollups.rebuild(FUNNEL.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("pipeline", "FunnelDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0023_funnel_daily_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
