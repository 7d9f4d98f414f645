import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0015_translatable_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[("api", "API"), ("admin", "Admin")],
                        default="api",
                        max_length=8,
                        verbose_name="source",
                    ),
                ),
                ("kind", models.CharField(max_length=64, verbose_name="kind")),
                (
                    "filters",
                    models.JSONField(blank=True, default=dict, verbose_name="filters"),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                            ("expired", "Expired"),
                        ],
                        default="queued",
                        max_length=8,
                        verbose_name="status",
                    ),
                ),
                (
                    "total",
                    models.PositiveIntegerField(
                        blank=True, null=True, verbose_name="total rows"
                    ),
                ),
                ("rows", models.PositiveIntegerField(default=0, verbose_name="rows")),
                (
                    "file",
                    models.FileField(
                        blank=True,
                        max_length=255,
                        upload_to="exports/%Y/%m/",
                        verbose_name="file",
                    ),
                ),
                (
                    "size",
                    models.PositiveBigIntegerField(default=0, verbose_name="size"),
                ),
                ("error", models.TextField(blank=True, verbose_name="error")),
                (
                    "attempts",
                    models.PositiveSmallIntegerField(
                        default=0, verbose_name="attempts"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="created at"),
                ),
                (
                    "started_at",
                    models.DateTimeField(
                        blank=True, null=True, verbose_name="started at"
                    ),
                ),
                (
                    "finished_at",
                    models.DateTimeField(
                        blank=True, null=True, verbose_name="finished at"
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "export",
                "verbose_name_plural": "exports",
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(
                        fields=["requested_by", "-created_at"], name="exportjob_by"
                    ),
                    models.Index(
                        condition=models.Q(("status", "done")),
                        fields=["finished_at"],
                        name="exportjob_done_finished",
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "status__in",
                                ["queued", "running", "done", "failed", "expired"],
                            )
                        ),
                        name="exportjob_status_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("source__in", ["api", "admin"])),
                        name="exportjob_source_valid",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="ActionJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("model", models.CharField(max_length=100, verbose_name="model")),
                ("action", models.CharField(max_length=100, verbose_name="action")),
                (
                    "description",
                    models.CharField(
                        blank=True, max_length=255, verbose_name="description"
                    ),
                ),
                ("query", models.TextField(blank=True, verbose_name="query")),
                (
                    "form",
                    models.JSONField(blank=True, default=dict, verbose_name="form"),
                ),
                (
                    "scope",
                    models.JSONField(blank=True, null=True, verbose_name="scope"),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=8,
                        verbose_name="status",
                    ),
                ),
                (
                    "total",
                    models.PositiveIntegerField(
                        blank=True, null=True, verbose_name="total records"
                    ),
                ),
                (
                    "done",
                    models.PositiveIntegerField(default=0, verbose_name="records done"),
                ),
                (
                    "last_pk",
                    models.BigIntegerField(default=0, verbose_name="last record"),
                ),
                (
                    "report",
                    models.JSONField(blank=True, default=list, verbose_name="report"),
                ),
                ("error", models.TextField(blank=True, verbose_name="error")),
                (
                    "attempts",
                    models.PositiveSmallIntegerField(
                        default=0, verbose_name="attempts"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="created at"),
                ),
                (
                    "started_at",
                    models.DateTimeField(
                        blank=True, null=True, verbose_name="started at"
                    ),
                ),
                (
                    "finished_at",
                    models.DateTimeField(
                        blank=True, null=True, verbose_name="finished at"
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "bulk action",
                "verbose_name_plural": "bulk actions",
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(
                        fields=["requested_by", "-created_at"], name="actionjob_by"
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("status__in", ["queued", "running", "done", "failed"])
                        ),
                        name="actionjob_status_valid",
                    ),
                ],
            },
        ),
    ]
