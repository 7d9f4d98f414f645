"""The global search's documents of companies and contacts (as leads 0015)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0016_export_and_action_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="company",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Concat(
                    "name",
                    models.Value(" "),
                    "domain",
                    output_field=models.TextField(),
                ),
                output_field=models.TextField(),
                verbose_name="search text",
            ),
        ),
        migrations.AddField(
            model_name="contact",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Concat(
                    "first_name",
                    models.Value(" "),
                    "last_name",
                    models.Value(" "),
                    "email",
                    output_field=models.TextField(),
                ),
                output_field=models.TextField(),
                verbose_name="search text",
            ),
        ),
    ]
