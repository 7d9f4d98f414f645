import pytest
from django.test import Client

from leads import services as lead_services
from pipeline import services
from tests.factories import ContentOfferFactory


@pytest.fixture
def client_for():
    """Return a browser-like client signed in as the given user."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def make_deal():
    """Create a deal through the service (with its first history row)."""

    def make(owner, *, stage="prospection", **fields):
        fields.setdefault("title", "Acme renewal")
        fields.setdefault("channel", "outbound")
        fields.setdefault("amount", "1000.00")
        return services.deal_create(by=owner, stage=stage, **fields)

    return make


@pytest.fixture
def captured_lead(rep, team):
    """Return a lead captured on an offer page (one touch), owned by ``rep``."""
    # The rep's team answers inbound leads; ``rep`` is its first rep in the
    # round robin.
    team.handles_inbound = True
    team.save(update_fields=["handles_inbound"])

    def capture(email="ada@dupont.example", **fields):
        lead = lead_services.lead_capture(
            offer=ContentOfferFactory(title="Pricing guide"),
            first_name=fields.get("first_name", "Ada"),
            last_name=fields.get("last_name", "Dupont"),
            email=email,
            company=fields.get("company", "Dupont SA"),
            job_title="CFO",
            phone="",
            consent=True,
            ip_address=None,
            page_url="",
            user_agent="",
        )
        assert lead.owner == rep
        return lead

    return capture
