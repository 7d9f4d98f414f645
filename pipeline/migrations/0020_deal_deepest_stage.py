"""Add ``Deal.deepest_stage`` and fill it from each deal's stage history.

The services keep it from now on (``history.deeper``); the deals so far get
the deepest stage among their history rows and their current stage. One
``UPDATE`` per stage, from the first to the last, so a deal ends with the
deepest stage it reached.
"""

from django.db import migrations, models
from django.db.models import Exists, OuterRef, Q

# The stages in funnel order, as they were when this migration was written.
STAGES = ("prospection", "qualification", "presentation", "consideration", "closing")


def forward(apps, schema_editor):
    Deal = apps.get_model("pipeline", "Deal")
    StageChange = apps.get_model("pipeline", "StageChange")
    for stage in STAGES[1:]:  # every deal starts at the field's default
        reached = StageChange.objects.filter(deal=OuterRef("pk"), to_stage=stage)
        Deal.objects.filter(Q(stage=stage) | Exists(reached)).update(
            deepest_stage=stage
        )


class Migration(migrations.Migration):

    dependencies = [
        ('pipeline', '0019_kpi_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='deal',
            name='deepest_stage',
            field=models.CharField(choices=[('prospection', 'Prospection'), ('qualification', 'Lead qualification'), ('presentation', 'Product presentation'), ('consideration', 'Consideration'), ('closing', 'Closing')], default='prospection', max_length=16, verbose_name='deepest stage reached'),
        ),
        migrations.RunPython(forward, migrations.RunPython.noop, elidable=True),
    ]
