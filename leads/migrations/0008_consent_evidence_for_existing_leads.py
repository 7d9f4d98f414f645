"""Give every lead that already had consent a record saying where it came from.

Consent was a flag before records existed: those leads keep it, with one
"given" record dated when the lead was last changed and a text that says no
evidence was kept, so an auditor sees the gap instead of a made-up origin.
"""

from django.db import migrations

TEXT = "Consent flag set before consent records were kept; no evidence recorded."


def forward(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    ConsentRecord = apps.get_model("leads", "ConsentRecord")
    rows = Lead.objects.filter(consent=True).values_list("pk", "updated_at")
    batch = []
    for pk, updated_at in rows.iterator(chunk_size=2000):
        batch.append(
            ConsentRecord(lead_id=pk, action="given", recorded_at=updated_at, text=TEXT)
        )
        if len(batch) == 2000:
            ConsentRecord.objects.bulk_create(batch)
            batch = []
    ConsentRecord.objects.bulk_create(batch)


def backward(apps, schema_editor):
    apps.get_model("leads", "ConsentRecord").objects.filter(text=TEXT).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_consent_records_and_touch_submissions")]

    operations = [migrations.RunPython(forward, backward)]
