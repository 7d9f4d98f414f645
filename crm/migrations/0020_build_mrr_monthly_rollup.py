"""Build the monthly MRR rollup (per owner and for everyone) from the ledger
posted so far, as ``crm.rollups.rebuild`` builds every rollup. Reversing
empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups

    rollups.rebuild(rollups.MRR_MONTHS.using_apps(apps))


def reverse(apps, schema_editor):
    apps.get_model("crm", "MrrMonthly").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0019_mrr_monthly_rollup"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
