"""Replace the raw error text of recorded delivery attempts by its class.

Runs before the column becomes a 16-character choice field (0006). Raw socket
messages are what made the attempts log a network scanner; the status code,
when there was one, is already in its own column.
"""

from django.db import migrations


def _classify(text: str) -> str:
    lowered = text.lower()
    if lowered.startswith("http "):
        return ""  # "HTTP 500": the status_code column holds it
    for needle, error in (
        ("timed out", "timeout"),
        ("refused", "refused"),
        ("ssl", "tls"),
        ("certificate", "tls"),
        ("name or service", "dns"),
        ("nodename", "dns"),
        ("getaddrinfo", "dns"),
    ):
        if needle in lowered:
            return error
    return "connection"


def forward(apps, schema_editor):
    DeliveryAttempt = apps.get_model("crm", "DeliveryAttempt")
    for attempt in DeliveryAttempt.objects.exclude(error="").only("pk", "error"):
        attempt.error = _classify(attempt.error)
        attempt.save(update_fields=["error"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0006_record_versions")]

    # Backwards, the classes are valid text for the old column: nothing to undo.
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
