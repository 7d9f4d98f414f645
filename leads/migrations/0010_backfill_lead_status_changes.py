"""Backfill the lead status history from the timestamps kept so far.

Until now a record's statuses were timestamps on the lead, so its history is
rebuilt from them, once: created as a prospect when it became a lead more than
a minute after its creation (or never), else as a lead; then lead, the current
decision (qualified or disqualified; earlier decisions left no timestamp) and
conversion, each at its timestamp. From now on the services write the rows.
Reversing deletes the history.
"""

import datetime

from django.db import migrations

CREATED_AS_LEAD_TOLERANCE = datetime.timedelta(minutes=1)
BATCH = 5000


def _history(lead):
    pk, status, created, became, qualified, disqualified, converted = lead
    as_prospect = became is None or became > created + CREATED_AS_LEAD_TOLERANCE
    steps = [("prospect" if as_prospect else "lead", created)]
    if as_prospect and became is not None:
        steps.append(("lead", became))
    if status in ("qualified", "converted") and qualified is not None:
        steps.append(("qualified", qualified))
    if status == "disqualified" and disqualified is not None:
        steps.append(("disqualified", disqualified))
    if status == "converted" and converted is not None:
        steps.append(("converted", converted))
    previous = ""
    for to_status, at in steps:
        yield previous, to_status, at
        previous = to_status


def forward(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    LeadStatusChange = apps.get_model("leads", "LeadStatusChange")
    leads = Lead.objects.order_by("pk").values_list(
        "pk",
        "status",
        "created_at",
        "became_lead_at",
        "qualified_at",
        "disqualified_at",
        "converted_at",
    )
    rows = []
    for lead in leads.iterator(chunk_size=BATCH):
        rows.extend(
            LeadStatusChange(
                lead_id=lead[0], from_status=before, to_status=after, changed_at=at
            )
            for before, after, at in _history(lead)
        )
        if len(rows) >= BATCH:
            LeadStatusChange.objects.bulk_create(rows)
            rows = []
    LeadStatusChange.objects.bulk_create(rows)


def reverse(apps, schema_editor):
    apps.get_model("leads", "LeadStatusChange").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0009_lead_status_change"),
    ]

    operations = [
        migrations.RunPython(forward, reverse),
    ]
