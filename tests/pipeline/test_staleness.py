import datetime
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from pipeline import services
from pipeline.models import Deal, StageRules, StageSetting

pytestmark = pytest.mark.django_db

DAYS = datetime.timedelta(days=1)


def age(deal, *, entered_days, activity_days=None):
    now = timezone.now()
    Deal.objects.filter(pk=deal.pk).update(
        stage_entered_at=now - entered_days * DAYS,
        last_activity_at=None if activity_days is None else now - activity_days * DAYS,
    )


def stale_ids():
    return set(Deal.objects.stale().values_list("pk", flat=True))


def test_stage_settings_are_created_by_the_data_migration():
    assert dict(StageSetting.objects.values_list("stage", "probability")) == {
        "prospection": 10,
        "qualification": 20,
        "presentation": 40,
        "consideration": 60,
        "closing": 80,
    }


def test_deal_is_stale_after_its_stages_limit_without_move_or_activity(rep, make_deal):
    # Limits: prospection 14 days, consideration 30 days.
    young = make_deal(rep)
    old = make_deal(rep)
    patient = make_deal(rep, stage="consideration")
    age(young, entered_days=13)
    age(old, entered_days=15)
    age(patient, entered_days=20)
    assert stale_ids() == {old.pk}


def test_a_recent_activity_keeps_a_deal_fresh(rep, make_deal):
    deal = make_deal(rep)
    age(deal, entered_days=40, activity_days=2)
    assert stale_ids() == set()
    age(deal, entered_days=40, activity_days=20)
    assert stale_ids() == {deal.pk}


def test_closed_deals_are_never_stale(rep, make_deal):
    deal = services.deal_lose(deal=make_deal(rep), by=rep, reason="price")
    age(deal, entered_days=100)
    assert stale_ids() == set()
    assert Deal.objects.with_staleness().get(pk=deal.pk).is_stale is False


def test_stale_limit_is_read_from_the_stage_settings(rep, make_deal):
    deal = make_deal(rep)
    age(deal, entered_days=5)
    assert stale_ids() == set()
    StageSetting.objects.filter(stage="prospection").update(stale_after_days=3)
    assert stale_ids() == {deal.pk}


def test_weighted_amount_uses_the_deals_probability_else_the_stages(rep, make_deal):
    make_deal(rep, stage="closing", amount="1000")  # 1000 x 80% = 800
    make_deal(rep, stage="closing", amount="1000", probability=50)  # 500
    rules = StageRules.load()
    total = Deal.objects.aggregate(w=Sum(rules.weighted_amount_expression()))["w"]
    assert Decimal(total).quantize(Decimal("0.01")) == Decimal("1300.00")


def test_in_memory_staleness_agrees_with_the_sql_rule(rep, make_deal):
    fresh = make_deal(rep)
    old = make_deal(rep, stage="closing")
    long_ago = timezone.now() - datetime.timedelta(days=90)
    Deal.objects.filter(pk=old.pk).update(stage_entered_at=long_ago)
    rules, now = StageRules.load(), timezone.now()

    for deal in Deal.objects.with_staleness(rules, now):
        assert rules.is_stale(deal, now) is deal.is_stale
    assert {d.pk for d in Deal.objects.stale(rules, now)} == {old.pk}
    assert fresh.pk != old.pk
