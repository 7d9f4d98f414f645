"""Enable pg_trgm for the global search's typo tolerance (a no-op off PostgreSQL)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = []

    operations = [TrigramExtension()]
