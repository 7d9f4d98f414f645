"""Reads routed to a streaming replica (crm/replica.py).

The router's choices and the fallback run everywhere, without a replica: the
``replica`` alias is added for the test and its connection faked or pointed at
a closed port. The routing to a real replica runs when CRM_TEST_REPLICA_URL
names one (``make replica``: postgres://postgres@127.0.0.1:5433/postgres; the
test database of the suite is read there, replayed from the primary); with
CRM_REQUIRE_REPLICA=1 (CI) an unreachable replica fails the test instead of
skipping it.
"""

from __future__ import annotations

import copy
import os
import socket
import time

import environ
import pytest
import time_machine
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.test.utils import CaptureQueriesContext

from crm import export_jobs, replica
from crm.replica import REPLICA, ReplicaRouter, replica_reads
from leads.models import Lead
from tests.factories import LeadFactory

KPIS = "/api/v1/metrics/kpis/"
Q1 = {"start": "2026-01-01", "end": "2026-03-31"}
REPLAY_WAIT_SECONDS = 15


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _replica_settings(*, host: str, port: int | str, user: str = "postgres") -> dict:
    """The primary's (test) database, as served by the server at host:port."""
    settings = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    if settings["ENGINE"] != "django.db.backends.postgresql":
        # A replica is PostgreSQL; the unit tests never query it.
        settings.update(ENGINE="django.db.backends.postgresql", NAME="crm")
    settings.update(HOST=host, PORT=str(port), USER=user, PASSWORD="")
    settings["OPTIONS"] = {**settings.get("OPTIONS", {}), "connect_timeout": 2}
    settings["TEST"] = {"MIRROR": DEFAULT_DB_ALIAS}
    return settings


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup):
    """Declare the ``replica`` alias (at a closed port) for the whole module.

    Added once the test databases exist (a mirror is only pointed at the
    primary's test database by their set-up) and before each test case sets
    up, which only accepts the aliases it is told about in ``databases``.
    """
    connections.settings[REPLICA] = _replica_settings(
        host="127.0.0.1", port=_closed_port()
    )
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@pytest.fixture
def replica_at():
    """Point the ``replica`` alias at a server: ``replica_at(host, port)``."""

    def point(host: str, port: int | str, user: str = "postgres") -> None:
        connections[REPLICA].close()
        connections[REPLICA].settings_dict.update(HOST=host, PORT=str(port), USER=user)

    replica.health.reset()
    yield point
    replica.health.reset()
    connections[REPLICA].close()


@pytest.fixture
def unreachable_replica(replica_at):
    replica_at("127.0.0.1", _closed_port())


@pytest.fixture
def reachable_fake(replica_at, monkeypatch):
    """A replica alias whose connection attempts succeed and are counted."""
    attempts = []
    monkeypatch.setattr(
        connections[REPLICA], "ensure_connection", lambda: attempts.append(1)
    )
    return attempts


WITH_REPLICA = pytest.mark.django_db(
    transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA]
)


# --- the router, without a replica ----------------------------------------------


def test_without_a_replica_routed_reads_stay_on_the_primary(monkeypatch):
    monkeypatch.delitem(connections.settings, REPLICA)
    with replica_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS
        assert Lead.objects.all().db == DEFAULT_DB_ALIAS


def test_reads_outside_the_routed_block_go_to_the_primary(reachable_fake):
    assert Lead.objects.all().db == DEFAULT_DB_ALIAS
    with replica_reads():
        pass
    assert Lead.objects.all().db == DEFAULT_DB_ALIAS
    assert reachable_fake == [1]


def test_reads_inside_the_routed_block_go_to_the_replica(reachable_fake):
    with replica_reads() as alias:
        assert alias == REPLICA
        assert Lead.objects.all().db == REPLICA


def test_writes_inside_the_routed_block_go_to_the_primary(reachable_fake):
    from django.db import router

    with replica_reads():
        assert router.db_for_write(Lead) == DEFAULT_DB_ALIAS


def test_nested_blocks_restore_the_outer_choice(reachable_fake):
    with replica_reads():
        with replica_reads():
            assert Lead.objects.all().db == REPLICA
        assert Lead.objects.all().db == REPLICA
    assert Lead.objects.all().db == DEFAULT_DB_ALIAS


def test_replica_reads_decorates_a_function(reachable_fake):
    @replica_reads()
    def read():
        return Lead.objects.all().db

    assert read() == REPLICA
    assert Lead.objects.all().db == DEFAULT_DB_ALIAS


def test_the_replica_is_never_migrated():
    router = ReplicaRouter()
    assert router.allow_migrate(REPLICA, "leads") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "leads") is True


@WITH_REPLICA
def test_reads_in_a_transaction_on_the_primary_stay_there(reachable_fake):
    # A transaction may have written rows the replica cannot have yet.
    with transaction.atomic(), replica_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS
    assert reachable_fake == []


def test_an_unreachable_replica_is_left_alone_for_a_while(replica_at, monkeypatch):
    attempts = []

    def refuse():
        attempts.append(1)
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections[REPLICA], "ensure_connection", refuse)
    clock = [1000.0]
    monkeypatch.setattr(replica.time, "monotonic", lambda: clock[0])

    with replica_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS
    # Within the retry delay nobody pays the connect timeout again.
    clock[0] += replica.REPLICA_RETRY_SECONDS - 1
    with replica_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS
    assert attempts == [1]
    # Then it is tried again.
    clock[0] += 2
    with replica_reads():
        pass
    assert attempts == [1, 1]


# --- the views, with the replica down -------------------------------------------


def _leads_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if '"leads_lead"' in q["sql"]]


@WITH_REPLICA
@time_machine.travel("2026-02-10 10:00Z", tick=False)
def test_kpis_fall_back_to_the_primary_when_the_replica_is_down(
    unreachable_replica, rep, api_as
):
    LeadFactory(owner=rep)
    with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary:
        response = api_as(rep).get(KPIS, {**Q1, "owner": rep.pk})

    assert response.status_code == 200
    items = {item["key"]: item for item in response.json()["kpis"]}
    assert items["new_leads"]["value"] == 1
    assert _leads_queries(primary.captured_queries)
    assert connections[REPLICA].connection is None
    assert replica.health.is_down()


@WITH_REPLICA
def test_exports_fall_back_to_the_primary_when_the_replica_is_down(
    unreachable_replica, rep, api_as
):
    lead = LeadFactory(owner=rep)
    response = api_as(rep).get("/api/v1/leads/export/")

    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert lead.email in body


@WITH_REPLICA
def test_export_jobs_fall_back_to_the_primary_when_the_replica_is_down(
    unreachable_replica, rep
):
    lead = LeadFactory(owner=rep)

    # No broker: the job runs as soon as the export's row is committed.
    job = export_jobs.export_start(by=rep, kind="leads")

    job.refresh_from_db()
    assert (job.status, job.rows) == ("done", 1)
    with job.file.open("rb") as file:
        assert lead.email in file.read().decode()
    assert replica.health.is_down()


@WITH_REPLICA
def test_the_dashboard_and_its_charts_fall_back_when_the_replica_is_down(
    unreachable_replica, rep, client
):
    client.force_login(rep)

    page = client.get("/admin/metrics/dashboard/")
    chart = client.get("/admin/metrics/dashboard/chart/funnel.svg")

    assert (page.status_code, chart.status_code) == (200, 200)
    assert replica.health.is_down()


# --- a real replica ---------------------------------------------------------------


def _replica_url() -> str | None:
    url = os.environ.get("CRM_TEST_REPLICA_URL")
    required = os.environ.get("CRM_REQUIRE_REPLICA") == "1"
    if not url:
        if required:
            pytest.fail("CRM_REQUIRE_REPLICA=1 but CRM_TEST_REPLICA_URL is not set")
        pytest.skip("no replica: set CRM_TEST_REPLICA_URL (make replica)")
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        if required:
            pytest.fail("CRM_REQUIRE_REPLICA=1 needs the suite on PostgreSQL")
        pytest.skip("a streaming replica needs the suite on PostgreSQL")
    return url


@pytest.fixture
def real_replica(replica_at):
    url = _replica_url()
    config = environ.Env.db_url_config(url)
    replica_at(config["HOST"], config["PORT"], config["USER"] or "postgres")
    try:
        connections[REPLICA].ensure_connection()
    except OperationalError as exc:
        if os.environ.get("CRM_REQUIRE_REPLICA") == "1":
            pytest.fail(f"replica {url} unreachable: {exc}")
        pytest.skip(f"replica {url} unreachable: {exc}")
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0], f"{url} is not a standby"


def _wait_for_replay(pk: int) -> None:
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while time.monotonic() < deadline:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT 1 FROM leads_lead WHERE id = %s", [pk])
            if cursor.fetchone():
                return
        time.sleep(0.05)
    pytest.fail(f"lead {pk} not replayed on the replica in {REPLAY_WAIT_SECONDS} s")


@WITH_REPLICA
def test_kpis_read_the_replica(real_replica, rep, api_as):
    with time_machine.travel("2026-02-10 10:00Z", tick=False):
        lead = LeadFactory(owner=rep)
    _wait_for_replay(lead.pk)

    with (
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
    ):
        response = api_as(rep).get(KPIS, {**Q1, "owner": rep.pk})

    assert response.status_code == 200
    items = {item["key"]: item for item in response.json()["kpis"]}
    assert items["new_leads"]["value"] == 1  # the lead, read on the replica
    assert _leads_queries(on_replica.captured_queries)
    assert _leads_queries(primary.captured_queries) == []
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is True


@WITH_REPLICA
def test_exports_stream_from_the_replica(real_replica, rep, api_as):
    leads = LeadFactory.create_batch(3, owner=rep)
    _wait_for_replay(leads[-1].pk)

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        response = api_as(rep).get("/api/v1/leads/export/")
        body = b"".join(response.streaming_content).decode()

    assert response.status_code == 200
    assert all(lead.email in body for lead in leads)
    assert _leads_queries(on_replica.captured_queries)


@WITH_REPLICA
def test_export_jobs_read_the_replica(real_replica, rep):
    leads = LeadFactory.create_batch(3, owner=rep)
    _wait_for_replay(leads[-1].pk)

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        job = export_jobs.export_start(by=rep, kind="leads")  # runs at commit

    job.refresh_from_db()
    assert (job.status, job.rows) == ("done", 3)
    with job.file.open("rb") as file:
        body = file.read().decode()
    assert all(lead.email in body for lead in leads)
    assert _leads_queries(on_replica.captured_queries)


@WITH_REPLICA
def test_a_replica_going_down_sends_reads_back_to_the_primary(
    real_replica, rep, api_as
):
    # The same alias, now pointing at a closed port: the replica is gone.
    connections[REPLICA].close()
    connections[REPLICA].settings_dict["PORT"] = str(_closed_port())
    with time_machine.travel("2026-02-10 10:00Z", tick=False):
        LeadFactory(owner=rep)

    started = time.monotonic()
    first = api_as(rep).get(KPIS, {**Q1, "owner": rep.pk})
    second = api_as(rep).get(KPIS, {**Q1, "owner": rep.pk})

    assert first.status_code == second.status_code == 200
    assert {i["key"]: i for i in second.json()["kpis"]}["new_leads"]["value"] == 1
    assert replica.health.is_down()
    # A refused connection fails at once; a timeout would cost connect_timeout
    # once, never per request.
    assert time.monotonic() - started < 2 * 2 + 5
