"""The global search's document (workspace/search.py) as a stored generated column.

PostgreSQL and SQLite compute it for the existing rows as the column is added
(a table rewrite under lock: about a second per 100,000 leads measured on the
benchmark's data, see docs/benchmarks.md) and on every later write, so no
batched backfill is needed. Its GIN trigram index is workspace 0004.
"""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0017_build_lead_status_daily_rollup"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Concat(
                    "first_name",
                    models.Value(" "),
                    "last_name",
                    models.Value(" "),
                    "email",
                    models.Value(" "),
                    "company_name",
                    output_field=models.TextField(),
                ),
                output_field=models.TextField(),
                verbose_name="search text",
            ),
        ),
    ]
