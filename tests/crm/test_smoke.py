import pytest

from tests.factories import ActivityFactory, DealFactory, StageChangeFactory

pytestmark = pytest.mark.django_db


def test_factories_build_a_consistent_cast():
    activity = ActivityFactory()
    change = StageChangeFactory(deal=DealFactory(owner=activity.owner))
    assert change.deal.owner == activity.lead.owner
