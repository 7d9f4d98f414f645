"""Every deal transition and conversion writes its webhook event with the change."""

import pytest

from crm import webhooks
from crm.errors import StaleVersion
from crm.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from pipeline import services
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _events() -> list[str]:
    return list(OutboxEvent.objects.order_by("pk").values_list("event_type", flat=True))


def test_each_transition_emits_its_event(rep, make_deal):
    deal = make_deal(rep, stage="consideration")
    deal = services.deal_move(deal=deal, to_stage="closing", by=rep)
    deal = services.deal_win(deal=deal, by=rep)
    deal = services.deal_reopen(deal=deal, by=rep)
    services.deal_lose(deal=deal, by=rep, reason="price")

    assert _events() == [
        "deal.created",
        "deal.stage_changed",
        "deal.won",
        "deal.stage_changed",
        "deal.lost",
    ]
    won = OutboxEvent.objects.filter(event_type="deal.won").get()
    assert won.payload["deal"]["id"] == deal.pk
    assert won.payload["deal"]["amount"] == "1000.00"
    assert won.payload["change"]["to_status"] == "won"


def test_a_refused_move_emits_nothing(rep, make_deal):
    deal = make_deal(rep)
    before = OutboxEvent.objects.count()

    with pytest.raises(StaleVersion):
        services.deal_move(deal=deal, to_stage="closing", by=rep, expected_version=99)

    assert OutboxEvent.objects.count() == before


def test_conversion_emits_deal_created_and_lead_converted(rep):
    lead = LeadFactory(status="qualified", owner=rep, email="ann@initech.example")
    WebhookEndpoint.objects.create(
        url="https://hooks.example/x", secret="x" * 32, events=["lead.converted"]
    )

    deal = services.lead_convert(lead=lead, by=rep)

    assert _events() == ["deal.created", "lead.converted"]
    converted = OutboxEvent.objects.get(event_type="lead.converted")
    assert converted.payload["lead"]["id"] == lead.pk
    assert converted.payload["deal"]["id"] == deal.pk
    # Only the subscribed event is queued for delivery.
    webhooks.fan_out()
    assert WebhookDelivery.objects.get().event == converted
