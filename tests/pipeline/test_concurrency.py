import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from crm.errors import Conflict
from pipeline import services
from pipeline.models import Deal, StageChange
from tests.factories import TeamFactory, UserFactory


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL row locks (SELECT ... FOR UPDATE) and truly "
    "concurrent transactions; SQLite serialises writers and ignores FOR UPDATE",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_version", [True, False])
def test_two_concurrent_moves_one_succeeds_one_conflicts(with_version):
    # given a deal read by two people at version 1
    manager = UserFactory(username="boss", role="manager")
    rep = UserFactory(username="rep1", team=TeamFactory(manager=manager))
    deal = services.deal_create(by=rep, title="Race", channel="inbound", amount=10)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def mover(user, stage):
        try:
            barrier.wait(timeout=10)
            services.deal_move(
                deal=deal,
                to_stage=stage,
                by=user,
                expected_version=1 if with_version else None,
            )
            outcomes.append("moved")
        except (Conflict, ValidationError) as exc:  # StaleVersion is a Conflict
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    # when both move it at the same moment (to the same stage without a version:
    # the second mover then finds it already there, a field error)
    stages = ("closing", "consideration") if with_version else ("closing", "closing")
    threads = [
        threading.Thread(target=mover, args=(rep, stages[0])),
        threading.Thread(target=mover, args=(manager, stages[1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then exactly one wins and exactly one history row is added
    assert sorted(outcomes) == sorted(
        ["moved", "StaleVersion" if with_version else "ValidationError"]
    )
    assert StageChange.objects.filter(deal=deal).count() == 2
    assert Deal.objects.get(pk=deal.pk).version == 2
