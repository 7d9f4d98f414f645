"""A client generated from /api/schema/ works: the schema is the contract.

openapi-python-client (pinned in requirements-dev.txt) generates a Python package
from the served schema; the test imports it and runs the product's main scenario
through it against a live server: token, company, lead, qualify, convert, move,
win, KPIs and export.
"""

import datetime
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine

from crm.models import Role
from crm.views import SchemaView
from tests.factories import TeamFactory, UserFactory

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def generated_client(tmp_path, client, monkeypatch):
    """Generate the client package from the served schema and import it."""
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    # No formatting pass: the test needs the code, not its looks.
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    subprocess.run(  # noqa: S603 - our own pinned tool on our own schema
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--output-path",
            str(tmp_path / "crm_client"),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("crm_client")
    for name in [m for m in sys.modules if m.split(".")[0] == "crm_client"]:
        del sys.modules[name]


def _api(package, *names):
    return [importlib.import_module(f"crm_client.api.{name}") for name in names]


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_runs_the_sales_scenario(generated_client, live_server):
    crm = generated_client
    models = importlib.import_module("crm_client.models")
    (token_create,) = _api(crm, "auth.auth_token_create")
    companies_create, leads_create, leads_qualify, leads_convert = _api(
        crm,
        "companies.companies_create",
        "leads.leads_create",
        "leads.leads_qualify_create",
        "leads.leads_convert_create",
    )
    deals_move, deals_win, deals_export, kpis = _api(
        crm,
        "deals.deals_move_create",
        "deals.deals_win_create",
        "deals.deals_export_retrieve",
        "metrics.metrics_kpis_retrieve",
    )
    team = TeamFactory(manager=UserFactory(username="boss", role=Role.MANAGER))
    UserFactory(username="ada", password="pass-Word-1", team=team)

    with time_machine.travel(NOON, tick=True):
        anonymous = crm.Client(base_url=live_server.url)
        token = token_create.sync(
            client=anonymous,
            body=models.TokenLoginRequest(username="ada", password="pass-Word-1"),
        )
        assert isinstance(token, models.TokenResponse), token
        api = crm.AuthenticatedClient(
            base_url=live_server.url, token=token.token, prefix="Token"
        )

        company = companies_create.sync(
            client=api,
            body=models.CompanyRequest(name="Initech", domain="www.Initech.example"),
        )
        assert isinstance(company, models.Company), company
        assert company.domain == "initech.example"

        lead = leads_create.sync(
            client=api,
            body=models.LeadRequest(
                channel=models.ChannelEnum.OUTBOUND,
                source=models.SourceEnum.COLD_EMAIL,
                first_name="Jane",
                email="jane@initech.example",
                company_name="Initech",
            ),
        )
        assert isinstance(lead, models.Lead), lead

        qualified = leads_qualify.sync(
            lead.id,
            client=api,
            body=models.QualifyRequest(
                budget=True, authority=True, need=True, timeline=False
            ),
        )
        assert qualified.status == models.LeadStatusEnum.QUALIFIED

        deal = leads_convert.sync(
            lead.id,
            client=api,
            body=models.LeadConvertRequest(amount="12000.00", currency="EUR"),
        )
        assert isinstance(deal, models.Deal), deal
        assert (deal.company, deal.stage) == (company.id, models.StageEnum.PRESENTATION)

        moved = deals_move.sync_detailed(
            deal.id,
            client=api,
            body=models.DealMoveRequest(stage=models.StageEnum.CLOSING),
            if_match=f'"{deal.version}"',
        )
        assert moved.status_code == 200, moved.content
        assert moved.headers["ETag"] == f'"{deal.version + 1}"'

        won = deals_win.sync(deal.id, client=api, if_match=moved.headers["ETag"])
        assert won.status == models.DealStatusEnum.WON

        report = kpis.sync(client=api, start="2026-01-01", end="2026-03-31")
        assert isinstance(report, models.KpiReport), report
        revenue = next(k for k in report.kpis if k.key == "revenue_won")
        assert [(v.currency, v.value) for v in revenue.values] == [("EUR", "12000.00")]

        export = deals_export.sync_detailed(client=api)
        assert export.status_code == 200
        assert b"Initech deal" in export.content


def test_the_schema_is_generated_once_per_process(client, monkeypatch):
    from drf_spectacular.generators import SchemaGenerator

    monkeypatch.setattr(SchemaView, "_schemas", {})
    monkeypatch.setattr(SchemaView, "_rendered", {})
    calls = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)

    first = client.get("/api/schema/")
    second = client.get("/api/schema/")
    as_json = client.get("/api/schema/", {"format": "json"})

    assert first.status_code == second.status_code == as_json.status_code == 200
    assert second.content == first.content
    assert len(calls) == 1
