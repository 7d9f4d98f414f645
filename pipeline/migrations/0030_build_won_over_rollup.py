"""Build the rollup of the cold calls that won a prospect over from the calls
marked so far, as ``crm.rollups.rebuild`` builds every rollup. Reversing
empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from pipeline.rollups import WON_OVER

    rollups.rebuild(WON_OVER.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("pipeline", "WonOverDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0029_won_over_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
