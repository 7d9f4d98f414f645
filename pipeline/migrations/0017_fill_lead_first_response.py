"""Fill ``Lead.first_response_at`` (leads 0019) from the activities logged so far.

One ``UPDATE ... FROM`` a grouped subquery (``pipeline.responses``, which the
benchmark's bulk generation also calls): the first outbound call, e-mail or
meeting of each lead at or after it became a lead. Reversing empties it.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from pipeline.responses import fill_first_responses

    fill_first_responses(
        schema_editor.connection,
        lead_model=apps.get_model("leads", "Lead"),
        activity_model=apps.get_model("pipeline", "Activity"),
    )


def reverse(apps, schema_editor):
    apps.get_model("leads", "Lead").objects.exclude(
        first_response_at=None
    ).update(first_response_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0020_lead_first_response_at"),
        ("pipeline", "0016_translated_rollup_names"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
