"""The benchmark (``python -m bench``) runs end to end at a tiny scale on the
current engine."""

import json

import pytest
from django.db import connection

from bench.cli import UsageError, run
from bench.database import bench_database_name, is_test_database
from bench.report import END, START, write_markdown

pytestmark = pytest.mark.django_db

OPERATIONS = [
    "kpis_org",
    "kpis_team",
    "kpis_rep",
    "funnel",
    "churn_12m",
    "leads_p1",
    "leads_p1_10",
    "leads_p1_500",
    "leads_deep",
    "deals_stage",
    "deals_stage_10",
    "deals_stage_500",
    "search_rep",
    "search_all",
    "leads_search_api",
    "board",
    "floor",
    "lead_create",
    "deal_move",
    "capture",
    "lead_update",
    "company_update",
    "dash_kpis_org",
    "dashboard_org",
    "dashboard_org_changed",
    "dash_kpis_team",
    "dashboard_team",
    "dashboard_team_changed",
    "dashboard_chart_changed",
    "dashboard_chart_304",
    "csv_import",
]


def test_bench_reports_every_operation_with_a_query_count(tmp_path):
    # given: the test database (--in-place), where the bench writes its own data
    json_path, markdown_path = tmp_path / "bench.json", tmp_path / "bench.md"

    # when
    run(
        [
            "--in-place",
            "--scale=0.0005",
            "--repeat=2",
            "--warmup=1",
            f"--json={json_path}",
            f"--markdown={markdown_path}",
            "--verbosity=0",
        ]
    )

    # then
    record = json.loads(json_path.read_text())
    results = {r["key"]: r for r in record["results"]}
    assert list(results) == OPERATIONS
    for key, result in results.items():
        assert result["status"] == "ok", (key, result["note"])
        assert isinstance(result["queries"], int), key
        assert result["median_ms"] > 0, key
    assert results["csv_import"]["rows_per_second"] > 0
    # Each operation next to its floor and the reference request (bench/floors.py).
    reference = record["reference"]
    assert reference["request_ms"] > 0
    assert reference["cpu_loop_ms"] > 0
    http = [r for key, r in results.items() if key != "csv_import"]
    assert all(r["vs_reference"] > 0 for r in http)
    if connection.vendor == "postgresql":
        assert all(r["floor_ms"] > 0 and r["vs_floor"] > 0 for r in http), [
            (r["key"], r["floor_ms"]) for r in http
        ]
    else:
        assert all(r["floor_ms"] is None for r in http)
    # Each write is reported against the floor request measured in the run.
    for key in ("lead_create", "capture", "deal_move"):
        assert results[key]["floor_ratio"] > 0, key
        assert "x the floor" in results[key]["note"], key
    assert record["dataset"]["rows"]["leads_lead"] == 500
    assert record["machine"]["cores"]
    markdown = markdown_path.read_text()
    assert START in markdown
    assert "KPIs, one quarter, organisation" in markdown
    # The dashboard page is judged against its KPI endpoint.
    assert "x dash_kpis_org" in results["dashboard_org_changed"]["note"]
    assert "x dash_kpis_team" in results["dashboard_team_changed"]["note"]
    assert results["dashboard_chart_304"]["queries"] <= 3


def test_only_measures_the_named_operations_and_rewrites_no_docs(tmp_path, capsys):
    json_path, markdown_path = tmp_path / "bench.json", tmp_path / "bench.md"

    run(
        [
            "--in-place",
            "--scale=0.0005",
            "--repeat=1",
            "--warmup=0",
            "--only=search_rep,search_all",
            f"--json={json_path}",
            f"--markdown={markdown_path}",
            "--verbosity=0",
        ]
    )

    table = capsys.readouterr().out
    assert "Global search /search/?q=name (rep's scope)" in table
    assert "(integration: every record)" in table
    assert "KPIs, one quarter" not in table
    assert "CSV import" not in table
    # A partial table must not replace the full one in docs/.
    assert not json_path.exists()
    assert not markdown_path.exists()


def test_markdown_keeps_the_analysis_around_the_results(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text(f"# Title\n\nBefore.\n\n{START}\nold figures\n{END}\n\nAfter.\n")

    write_markdown(path, "new figures")

    assert path.read_text() == (
        f"# Title\n\nBefore.\n\n{START}\nnew figures\n{END}\n\nAfter.\n"
    )


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("test_crm", True),
        ("file:memorydb_default?mode=memory&cache=shared", True),
        ("/work/test_db.sqlite3", True),
        ("crm", False),
        ("/srv/crm/db.sqlite3", False),
    ],
)
def test_in_place_accepts_only_a_test_database(name, accepted):
    assert is_test_database(name) is accepted


@pytest.mark.parametrize(
    ("name", "bench_name"),
    [
        ("crm", "crm_bench"),
        ("crm_search", "crm_search_bench"),
        ("x" * 70, "x" * 57 + "_bench"),
    ],
)
def test_the_bench_database_is_named_after_the_users_database(name, bench_name):
    # Two people on one server name different databases: neither drops the
    # other's bench database; a long name keeps its suffix within 63 bytes.
    assert bench_database_name(name) == bench_name


def test_generate_only_needs_keep_or_the_data_would_be_dropped():
    with pytest.raises(UsageError, match="without --keep"):
        run(["--generate-only", "--scale=0.0005"])
