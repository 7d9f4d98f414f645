"""Derive the customer ledger from the subscriptions recorded so far, by the
rule the services post with (``crm.mrr_ledger.customer_changes_of``, a pure
function of dates), then build its rollups as ``crm.rollups.rebuild`` builds
every rollup. Reversing empties the three tables.
"""

from collections import defaultdict

from django.db import migrations


def forward(apps, schema_editor):
    from crm import rollups
    from crm.mrr_ledger import Terms, customer_changes_of

    Subscription = apps.get_model("crm", "Subscription")
    CustomerChange = apps.get_model("crm", "CustomerChange")
    terms = defaultdict(list)
    rows = Subscription.objects.order_by().values_list(
        "company_id", "started_on", "ended_on", "mrr"
    )
    for company_id, *row in rows.iterator(chunk_size=5000):
        terms[company_id].append(Terms(*row))
    CustomerChange.objects.bulk_create(
        (
            CustomerChange(company_id=company_id, effective_on=day, change=change)
            for company_id, subscriptions in sorted(terms.items())
            for day, change in customer_changes_of(subscriptions).items()
        ),
        batch_size=2000,
    )
    for rollup in (rollups.CUSTOMERS, rollups.CUSTOMER_MONTHS):
        rollups.rebuild(rollup.using_apps(apps))


def reverse(apps, schema_editor):
    for name in ("CustomerMonthly", "CustomerDaily", "CustomerChange"):
        apps.get_model("crm", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0021_customer_ledger"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
