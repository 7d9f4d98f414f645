"""The monthly pipeline rollup's key leads with the owner: the organisation
reads its own running totals (owner 0) without passing every owner's rows of
the months after a day (10,000 at 500 reps). The new key is built before the
old one goes, in the migration's transaction, so an upsert always has one.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pipeline', '0025_deal_close_rollup_for_everyone'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='pipelinemonthly',
            constraint=models.UniqueConstraint(fields=('owner_id', 'month', 'channel', 'currency', 'stage'), name='pipelinemonthly_owner_key'),
        ),
        migrations.RemoveConstraint(
            model_name='pipelinemonthly',
            name='pipelinemonthly_key',
        ),
    ]
