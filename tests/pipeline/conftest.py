import pytest

from pipeline import services


@pytest.fixture
def make_deal():
    """Create a deal through the service (with its first history row)."""

    def make(owner, *, stage="prospection", **fields):
        fields.setdefault("title", "Acme renewal")
        fields.setdefault("channel", "outbound")
        fields.setdefault("amount", "1000.00")
        return services.deal_create(by=owner, stage=stage, **fields)

    return make
