"""Lead creation and qualification write their webhook events with the change."""

import pytest

from crm.errors import Conflict
from crm.models import OutboxEvent
from leads import services
from tests.factories import ContentOfferFactory, LeadFactory

pytestmark = pytest.mark.django_db


def _events() -> list[str]:
    return list(OutboxEvent.objects.order_by("pk").values_list("event_type", flat=True))


def test_creating_and_qualifying_a_lead_emit_events(rep):
    lead = services.lead_create(by=rep, email="ann@acme.example", first_name="Ann")
    services.lead_qualify(
        lead=lead, by=rep, budget=True, authority=True, need=True, timeline=False
    )

    assert _events() == ["lead.created", "lead.qualified"]
    qualified = OutboxEvent.objects.get(event_type="lead.qualified")
    assert qualified.payload["lead"]["id"] == lead.pk
    assert qualified.payload["lead"]["score"] == 60


def test_a_capture_of_a_new_person_emits_lead_created_once(rep, team):
    team.handles_inbound = True
    team.save()
    offer = ContentOfferFactory()
    capture = {
        "offer": offer,
        "first_name": "Bo",
        "last_name": "Li",
        "email": "bo@x.example",
        "company": "",
        "job_title": "",
        "phone": "",
        "consent": True,
        "ip_address": "127.0.0.1",
        "page_url": "",
        "user_agent": "",
    }

    services.lead_capture(**capture)
    services.lead_capture(**capture)  # the same person again: a touch, no new lead

    assert _events() == ["lead.created"]


def test_a_refused_qualification_emits_nothing(rep):
    prospect = LeadFactory(status="prospect", owner=rep)

    with pytest.raises(Conflict):
        services.lead_qualify(
            lead=prospect, by=rep, budget=True, authority=True, need=True, timeline=True
        )

    assert _events() == []
