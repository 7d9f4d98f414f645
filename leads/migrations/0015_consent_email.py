import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0014_lead_import_labels'),
    ]

    operations = [
        migrations.CreateModel(
            name='ConsentEmail',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sent_at', models.DateTimeField(verbose_name='sent at')),
                ('language', models.CharField(max_length=8, verbose_name='language')),
                ('request', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='email', to='leads.consentrecord', verbose_name='consent request')),
            ],
            options={
                'verbose_name': 'consent e-mail',
                'verbose_name_plural': 'consent e-mails',
            },
        ),
        migrations.AddIndex(
            model_name='consentrecord',
            index=models.Index(condition=models.Q(('action', 'requested')), fields=['recorded_at'], name='consent_request_recorded'),
        ),
    ]
