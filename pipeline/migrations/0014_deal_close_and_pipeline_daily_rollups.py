import datetime

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CHANNELS = [("inbound", "Inbound"), ("outbound", "Outbound")]


def _id():
    return models.BigAutoField(
        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
    )


def _owner():
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0013_activity_company_label"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DealCloseDaily",
            fields=[
                ("id", _id()),
                ("day", models.DateField()),
                ("channel", models.CharField(choices=CHANNELS, max_length=8)),
                ("currency", models.CharField(max_length=3)),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "Open"), ("won", "Won"), ("lost", "Lost")],
                        max_length=8,
                    ),
                ),
                ("closed_on", models.DateField()),
                ("deals", models.IntegerField(default=0)),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, default=0, max_digits=18),
                ),
                ("cycle", models.DurationField(default=datetime.timedelta)),
                ("owner", _owner()),
            ],
            options={
                "ordering": [
                    "day",
                    "owner",
                    "channel",
                    "currency",
                    "status",
                    "closed_on",
                ],
                "indexes": [
                    models.Index(
                        fields=["closed_on", "day"],
                        include=[
                            "owner",
                            "channel",
                            "currency",
                            "status",
                            "deals",
                            "amount",
                        ],
                        name="dealclosedaily_closed",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "day",
                            "owner",
                            "channel",
                            "currency",
                            "status",
                            "closed_on",
                        ),
                        name="dealclosedaily_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="PipelineDaily",
            fields=[
                ("id", _id()),
                ("day", models.DateField()),
                ("channel", models.CharField(choices=CHANNELS, max_length=8)),
                ("currency", models.CharField(max_length=3)),
                (
                    "stage",
                    models.CharField(
                        choices=[
                            ("prospection", "Prospection"),
                            ("qualification", "Lead qualification"),
                            ("presentation", "Product presentation"),
                            ("consideration", "Consideration"),
                            ("closing", "Closing"),
                        ],
                        max_length=16,
                    ),
                ),
                ("deals", models.IntegerField(default=0)),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, default=0, max_digits=18),
                ),
                (
                    "probability_amount",
                    models.DecimalField(decimal_places=2, default=0, max_digits=20),
                ),
                (
                    "stage_probability_amount",
                    models.DecimalField(decimal_places=2, default=0, max_digits=18),
                ),
                ("owner", _owner()),
            ],
            options={
                "ordering": ["day", "owner", "channel", "currency", "stage"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "owner", "channel", "currency", "stage"),
                        name="pipelinedaily_key",
                    )
                ],
            },
        ),
    ]
