import pytest
from django.db.models import F

from crm import demo as crm_demo
from crm.demo_context import DemoContext
from leads import demo
from leads.models import Lead, Qualification, Touch

pytestmark = pytest.mark.django_db


def test_demo_seeds_every_status_once_with_consistent_timestamps():
    ctx = DemoContext(quiet=True)
    crm_demo.seed(ctx)
    summary = demo.seed(ctx)
    assert "300 prospects and leads" in summary
    statuses = set(Lead.objects.values_list("status", flat=True))
    assert statuses == {"prospect", "lead", "qualified", "disqualified"}
    assert set(Lead.objects.values_list("channel", flat=True)) == {
        "inbound",
        "outbound",
    }
    assert not Lead.objects.filter(became_lead_at__lt=F("created_at")).exists()
    assert not Lead.objects.filter(qualified_at__lt=F("became_lead_at")).exists()
    assert Touch.objects.exists()
    assert (
        Qualification.objects.count()
        == Lead.objects.filter(status__in=["qualified", "disqualified"]).count()
    )
    # when seeded again, then nothing changes
    assert demo.seed(DemoContext(quiet=True)) == "already seeded"
    assert Lead.objects.count() == 300
