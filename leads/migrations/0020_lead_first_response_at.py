"""The lead's first response as a column (``Lead.first_response_at``), in the
response figures' covering indexes. Filled for existing data by pipeline 0016
(the rule reads activities, which live in ``pipeline``).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0019_translated_rollup_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="first_response_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="first response at"
            ),
        ),
        migrations.RemoveIndex(model_name="lead", name="lead_owner_became_lead"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["owner", "became_lead_at"],
                include=[
                    "qualified_at",
                    "channel",
                    "source",
                    "offer",
                    "first_response_at",
                ],
                name="lead_owner_became_lead",
            ),
        ),
        migrations.RemoveIndex(model_name="lead", name="lead_became_lead"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["became_lead_at"],
                include=[
                    "qualified_at",
                    "channel",
                    "source",
                    "offer",
                    "owner",
                    "id",
                    "first_response_at",
                ],
                name="lead_became_lead",
            ),
        ),
    ]
