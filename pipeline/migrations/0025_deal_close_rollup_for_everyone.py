"""The daily deal close rollup gains rows for the whole organisation (owner 0),
so its owner becomes a plain integer: the table is recreated and rebuilt from
the stage history, as ``crm.rollups.rebuild`` builds every rollup. Reversing
recreates the table, empty (build it with ``verify_rollups --rebuild``).
"""

import datetime

from django.db import migrations, models


def forward(apps, schema_editor):
    from crm import rollups
    from pipeline.rollups import CLOSES

    rollups.rebuild(CLOSES.using_apps(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0024_build_funnel_daily_rollup"),
    ]

    operations = [
        migrations.DeleteModel(name="DealCloseDaily"),
        migrations.CreateModel(
            name="DealCloseDaily",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("owner_id", models.IntegerField()),
                ("channel", models.CharField(choices=[("inbound", "Inbound"), ("outbound", "Outbound")], max_length=8)),
                ("currency", models.CharField(max_length=3)),
                ("status", models.CharField(choices=[("open", "Open"), ("won", "Won"), ("lost", "Lost")], max_length=8)),
                ("closed_on", models.DateField()),
                ("deals", models.IntegerField(default=0)),
                ("amount", models.DecimalField(decimal_places=2, default=0, max_digits=18)),
                ("cycle", models.DurationField(default=datetime.timedelta)),
            ],
            options={
                "verbose_name": "daily deal close rollup",
                "verbose_name_plural": "daily deal close rollups",
                "ordering": ["day", "owner_id", "channel", "currency", "status", "closed_on"],
                "indexes": [
                    models.Index(
                        fields=["owner_id", "closed_on", "day"],
                        include=["channel", "currency", "status", "deals", "amount"],
                        name="dealclosedaily_closed",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "owner_id", "channel", "currency", "status", "closed_on"),
                        name="dealclosedaily_key",
                    )
                ],
            },
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
