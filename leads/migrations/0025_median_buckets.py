"""The buckets of the time to qualify and of the response time (crm.durations).

The lead KPIs' medians count a period's leads per bucket, then rank one
bucket's leads, instead of sorting every lead of the period. The database
fills the two stored columns for existing rows (PostgreSQL rewrites the table
once; SQLite rebuilds it).
"""

import crm.durations
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0024_prospects_added_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_qualified_became",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_owner_became_lead",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_inbound_answered",
        ),
        migrations.AddField(
            model_name="lead",
            name="qualify_bucket",
            field=models.GeneratedField(
                db_persist=True,
                expression=crm.durations.DurationBucket(
                    "qualified_at", "became_lead_at"
                ),
                output_field=models.IntegerField(),
                verbose_name="time to qualify bucket",
            ),
        ),
        migrations.AddField(
            model_name="lead",
            name="response_bucket",
            field=models.GeneratedField(
                db_persist=True,
                expression=crm.durations.DurationBucket(
                    "first_response_at", "became_lead_at"
                ),
                output_field=models.IntegerField(),
                verbose_name="response time bucket",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                fields=["owner", "became_lead_at"],
                include=(
                    "qualified_at",
                    "channel",
                    "source",
                    "offer",
                    "first_response_at",
                    "qualify_bucket",
                    "response_bucket",
                ),
                name="lead_owner_became_lead",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(
                    ("channel", "inbound"), ("first_response_at__isnull", False)
                ),
                fields=["became_lead_at"],
                include=("first_response_at", "owner", "response_bucket"),
                name="lead_inbound_answered",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(
                    ("channel", "inbound"), ("first_response_at__isnull", False)
                ),
                fields=["response_bucket", "became_lead_at"],
                include=("first_response_at", "owner"),
                name="lead_response_bucket",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("qualified_at__isnull", False)),
                fields=["became_lead_at"],
                include=("qualified_at", "qualify_bucket"),
                name="lead_qualified_became",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("qualified_at__isnull", False)),
                fields=["qualify_bucket", "became_lead_at"],
                include=("qualified_at", "owner", "channel"),
                name="lead_qualify_bucket",
            ),
        ),
    ]
