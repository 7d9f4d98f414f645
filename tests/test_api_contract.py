"""The OpenAPI document is the contract: fuzz every operation as every role.

schemathesis generates requests from the schema (a fixed seed and a bounded
number of examples per operation) and checks that no response is a 5xx and that
every response matches what the schema documents: status code, content type and
body. A failure is fixed in the code or in an honest schema annotation, never by
loosening checks.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
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
# Examples and random fuzzing; the exhaustive "coverage" phase would multiply the
# run time of CI, which runs this suite twice.
schema.config.phases.update(phases=["examples", "fuzzing"])

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ["rep", "manager", "integration", "admin"]


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
def world(db):
    """A little of everything, so that generated ids sometimes hit real rows."""
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
    max_examples=3,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_honours_its_schema(case, role, world):
    headers = {"Authorization": f"Token {_token(world[role])}"}

    case.call_and_validate(headers=headers, checks=CHECKS)
