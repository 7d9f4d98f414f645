"""Create the five StageSetting rows from the defaults (probability, stale limit).

The values are copied here rather than imported from ``pipeline.models`` so that
this migration keeps producing the same rows when the defaults change later.
"""

from django.db import migrations

DEFAULTS = [
    # stage, win probability (percent), stale after (days)
    ("prospection", 10, 14),
    ("qualification", 20, 14),
    ("presentation", 40, 21),
    ("consideration", 60, 30),
    ("closing", 80, 14),
]


def create_settings(apps, schema_editor):
    StageSetting = apps.get_model("pipeline", "StageSetting")
    for stage, probability, stale_after_days in DEFAULTS:
        StageSetting.objects.get_or_create(
            stage=stage,
            defaults={
                "probability": probability,
                "stale_after_days": stale_after_days,
            },
        )


def delete_settings(apps, schema_editor):
    StageSetting = apps.get_model("pipeline", "StageSetting")
    StageSetting.objects.filter(stage__in=[row[0] for row in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0002_deal_constraints_stage_setting_ordering"),
    ]

    operations = [
        migrations.RunPython(create_settings, delete_settings),
    ]
