"""Derive each company's customer spells from the customer ledger posted so
far, by the rule the services write them with (``crm.mrr_ledger.spells_of``,
a pure function of dates). Reversing empties the table.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from crm.mrr_ledger import netted_changes, spell_rows

    CustomerSpell = apps.get_model("crm", "CustomerSpell")
    CustomerSpell.objects.bulk_create(
        spell_rows(netted_changes(apps.get_model("crm", "CustomerChange")), CustomerSpell),
        batch_size=2000,
    )


def reverse(apps, schema_editor):
    apps.get_model("crm", "CustomerSpell").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0023_customer_spells"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
