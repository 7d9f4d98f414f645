import pytest

from crm.demo_context import DemoContext
from metrics import demo
from metrics.models import KpiTarget

pytestmark = pytest.mark.django_db


def test_demo_targets_are_seeded_once(rep, other_rep, team):
    first = demo.seed(DemoContext(quiet=True))
    count = KpiTarget.objects.count()
    second = demo.seed(DemoContext(quiet=True))

    # 4 organisation + 2 per team (1) + 2 per rep (2) x 3 months = 18.
    assert count == 18
    assert first == "18 KPI targets"
    assert second == "already seeded"
    assert KpiTarget.objects.count() == count
