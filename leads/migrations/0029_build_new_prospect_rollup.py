"""Build the new-prospect rollup from the status history there is, as
``crm.rollups.rebuild`` builds every rollup. Reversing empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from leads.rollups import NEW_PROSPECTS

    rollups.rebuild(NEW_PROSPECTS.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("leads", "NewProspectDaily").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0028_new_prospect_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
