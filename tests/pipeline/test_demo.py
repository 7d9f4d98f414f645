import pytest
from django.db.models import F, Max, Min

from crm import demo as crm_demo
from crm.demo_context import DemoContext
from leads.models import Lead
from pipeline import demo
from pipeline.models import Activity, Deal, StageChange
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    ctx = DemoContext(size=1, quiet=True)
    crm_demo.seed(ctx)
    rep = Deal._meta.get_field("owner").related_model.objects.get(username="alice")
    LeadFactory.create_batch(4, status="prospect", owner=rep, channel="outbound")
    LeadFactory.create_batch(2, status="qualified", owner=rep)
    summary = demo.seed(ctx)
    return ctx, summary


def test_demo_spreads_deals_over_every_stage_and_status(seeded):
    assert Deal.objects.filter(lead__isnull=True).count() == 150
    assert set(Deal.objects.values_list("status", flat=True)) == {"open", "won", "lost"}
    assert set(Deal.objects.open().values_list("stage", flat=True)) == {
        "prospection",
        "qualification",
        "presentation",
        "consideration",
        "closing",
    }
    assert not Deal.objects.filter(status="lost", lost_reason="").exists()


def test_demo_history_is_consistent_with_each_deal(seeded):
    ctx, _ = seeded
    spans = Deal.objects.annotate(
        first=Min("stage_changes__changed_at"), last=Max("stage_changes__changed_at")
    )
    assert not spans.exclude(first=F("created_at")).exists()
    assert (
        not spans.filter(status__in=["won", "lost"])
        .exclude(last=F("closed_at"))
        .exists()
    )
    # (converted leads are real service calls, dated "now")
    assert not StageChange.objects.filter(
        deal__lead__isnull=True, changed_at__gt=ctx.now
    ).exists()
    assert (
        Deal.objects.filter(created_at__lt=ctx.now.replace(year=ctx.now.year - 1))
    ).count() <= 1
    # every deal's version counts its history rows
    for deal in Deal.objects.all()[:30]:
        assert deal.stage_changes.count() == deal.version
        last = deal.stage_changes.first()  # newest first
        assert (last.to_stage, last.to_status) == (deal.stage, deal.status)


def test_demo_marks_cold_calls_and_converts_qualified_leads(seeded):
    assert Activity.objects.cold_calls().exists()
    assert set(
        Activity.objects.cold_calls().values_list("lead__status", flat=True)
    ) == {"prospect"}
    assert Lead.objects.filter(status="converted").count() == 2
    prospect = Lead.objects.filter(status="prospect").first()
    assert prospect.activity_count == prospect.activities.count()


def test_demo_is_idempotent(seeded):
    ctx, _ = seeded
    assert demo.seed(ctx) == "already seeded"
    assert Deal.objects.count() == 152  # 150 + 2 converted leads
