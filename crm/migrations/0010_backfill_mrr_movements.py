"""Backfill the MRR movement ledger from the subscriptions recorded so far.

Each customer's movements per currency are derived from its subscriptions by
the same rule the services post with (``crm.mrr_ledger.movements_of``, a pure
function of dates and amounts). Reversing deletes the backfilled ledger.
"""

from collections import defaultdict

from django.db import migrations


def forward(apps, schema_editor):
    from crm.mrr_ledger import Terms, movements_of

    Subscription = apps.get_model("crm", "Subscription")
    MrrMovement = apps.get_model("crm", "MrrMovement")
    terms = defaultdict(list)
    rows = Subscription.objects.order_by().values_list(
        "company_id", "currency", "started_on", "ended_on", "mrr"
    )
    for company_id, currency, started_on, ended_on, mrr in rows.iterator(
        chunk_size=5000
    ):
        terms[(company_id, currency)].append(Terms(started_on, ended_on, mrr))
    movements = [
        MrrMovement(
            company_id=company_id,
            currency=currency,
            kind=kind,
            effective_on=day,
            amount=amount,
        )
        for (company_id, currency), ledger in sorted(terms.items())
        for (day, kind), amount in movements_of(ledger).items()
    ]
    MrrMovement.objects.bulk_create(movements, batch_size=2000)


def reverse(apps, schema_editor):
    apps.get_model("crm", "MrrMovement").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0009_mrr_movement_ledger"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
