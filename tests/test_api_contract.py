"""The OpenAPI document is the contract: fuzz every operation as every role.

schemathesis generates requests from the schema (a fixed seed and a bounded
number of examples per operation) and checks that no response is a 5xx and that
every response matches what the schema documents: status code, content type and
body. The stateful test follows the links schemathesis infers between operations
(create a lead, then qualify it, convert it, move its deal...), so it reaches
states that one-off requests cannot. A failure is fixed in the code or in an
honest schema annotation, never by loosening checks.

``make test`` runs a short, seeded pass; ``make fuzz`` a longer one with every
role, through the ``CRM_FUZZ_*`` variables below.

Every example meets the same world. Hypothesis replays and extends examples by
their sequence of choices and requires that the same choices meet the same
system (HypothesisWorks/hypothesis#3690): in a stateful run, which rule comes
next depends on the previous responses (a link is followed only from a 201),
so a lead left over from an earlier example (its e-mail now taken), a throttle
counter or a clock past midnight changes the next draw, and Hypothesis stops
with ``FlakyStrategyDefinition`` instead of testing. Each example therefore
runs in a savepoint rolled back after it, with the cache (throttles) cleared,
at a frozen instant.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.models import Role
from crm.wsgi import application
from tests.factories import (
    CompanyFactory,
    ContactFactory,
    DealFactory,
    LeadFactory,
    SubscriptionFactory,
    TeamFactory,
    UserFactory,
)

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# Examples and random fuzzing, plus the links between operations that the
# stateful test follows; the exhaustive "coverage" phase would multiply the run
# time of CI, which runs this suite twice.
schema.config.phases.update(phases=["examples", "fuzzing", "stateful"])

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ["rep", "manager", "integration", "admin"]
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "3"))
STATEFUL_EXAMPLES = int(os.environ.get("CRM_FUZZ_STATEFUL_EXAMPLES", "4"))
STATEFUL_STEPS = int(os.environ.get("CRM_FUZZ_STATEFUL_STEPS", "6"))
STATEFUL_ROLES = os.environ.get("CRM_FUZZ_STATEFUL_ROLES", "rep,integration").split(",")
# Midday, mid-week: dates relative to "now" (planned activities, periods,
# leases) come out the same on every run, whatever the wall clock says.
FROZEN_AT = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


class _World:
    """Roll the database and the cache back to the fixture's state."""

    def __init__(self) -> None:
        cache.clear()
        self._savepoint = transaction.savepoint()

    def restore(self) -> None:
        transaction.savepoint_rollback(self._savepoint)
        # A failed request may have marked the test's transaction for rollback;
        # what it did is undone now, so the next example may use it.
        transaction.set_rollback(False)
        cache.clear()


@contextmanager
def _fresh_world() -> Iterator[None]:
    world = _World()
    try:
        yield
    finally:
        world.restore()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Call the WSGI app the way Django's test client does.

    Django closes database connections when a request ends; schemathesis calls
    the app directly, so on PostgreSQL that would close the connection holding
    the test's transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, time_machine):
    """A little of everything, so that generated ids sometimes hit real rows."""
    time_machine.move_to(FROZEN_AT, tick=False)
    manager = UserFactory(username="c_manager", role=Role.MANAGER)
    team = TeamFactory(manager=manager, handles_inbound=True)
    rep = UserFactory(username="c_rep", team=team)
    users = {
        "rep": rep,
        "manager": manager,
        "integration": UserFactory(username="c_integration", role=Role.INTEGRATION),
        "admin": UserFactory(username="c_admin", is_superuser=True),
    }
    company = CompanyFactory(owner=rep)
    ContactFactory(company=company, owner=rep)
    SubscriptionFactory(company=company)
    LeadFactory(owner=rep)
    DealFactory(owner=rep, company=company)
    return users


def _token(user) -> str:
    from knox.models import AuthToken

    return AuthToken.objects.create(user=user)[1]


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    # The world (and the frozen clock) is made once for all the examples of a
    # test; each example puts it back as it found it (_fresh_world).
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_api_honours_its_schema(case, role, world):
    with _fresh_world():
        headers = {"Authorization": f"Token {_token(world[role])}"}
        case.call_and_validate(headers=headers, checks=CHECKS)


@pytest.mark.parametrize("role", STATEFUL_ROLES)
def test_api_workflows_honour_their_schema(role, world):
    token = _token(world[role])

    class Workflow(schema.as_state_machine()):
        # Hypothesis calls setup when it creates the machine for an example,
        # teardown when the example ends, failed or not.
        def setup(self):
            self._world = _World()

        def teardown(self):
            self._world.restore()

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Token {token}"}}

        def validate_response(self, response, case, additional_checks=None, **kw):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
        )
    )
