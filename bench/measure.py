"""Time each operation through the real stack and count its SQL queries.

HTTP operations go through ``django.test.Client`` (middleware, authentication,
DRF, serializers, templates) with DEBUG off, over https (so that a production
``SECURE_SSL_REDIRECT`` does not answer 301) and with an allowed host. Each one
has warm-up runs, then ``repeat`` timed runs; the median, the 95th percentile
(nearest rank) and the query count of the timed runs are reported.

Queries are counted with an ``execute_wrapper`` rather than
``CaptureQueriesContext``: the count is the same (one per ``execute`` or
``executemany``), but the SQL text is not formatted, which matters for the CSV
import's megabyte-long bulk inserts and keeps the measuring overhead out of the
figures.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from unittest import mock
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.urls import Resolver404, resolve

from bench import floors
from bench.generate import Dataset, last_full_quarter
from bench.write_floor import floor_mounted, floor_request, ratios
from crm.models import Company, User
from leads.models import Lead
from pipeline.models import STAGE_ORDER, Deal, DealStatus

NOT_AVAILABLE = "not available"
IMPORT_KEY = "csv_import"
MIN_RUNS = 5


@dataclass(frozen=True)
class Target:
    """A goal: a median below ``ms``, a rate of at least ``rows_per_second``, or
    the same query count as the operation ``same_queries_as``."""

    median_ms: float | None = None
    rows_per_second: float | None = None
    same_queries_as: str | None = None
    # The same goal as a multiple of the reference request (bench/floors.py),
    # which a change of machine leaves about where it is.
    reference_ratio: float | None = None

    def describe(self) -> str:
        if self.median_ms is not None:
            if self.reference_ratio is not None:
                return (
                    f"median < {self.median_ms:g} ms (< {self.reference_ratio:g}x ref)"
                )
            return f"median < {self.median_ms:g} ms"
        if self.rows_per_second is not None:
            return f">= {self.rows_per_second:,.0f} rows/s"
        return f"queries = {self.same_queries_as}"


@dataclass
class Result:
    key: str
    label: str
    status: str = "ok"
    note: str = ""
    runs: int = 0
    median_ms: float | None = None
    p95_ms: float | None = None
    queries: int | None = None
    queries_min: int | None = None
    rows: int | None = None
    rows_per_second: float | None = None
    target: str = ""
    met: bool | None = None
    # The same SQL through psycopg alone, and the ratios (bench/floors.py).
    floor_ms: float | None = None
    vs_floor: float | None = None
    vs_reference: float | None = None
    met_ratio: bool | None = None
    # Median over the floor request's median (bench.write_floor), for the writes.
    floor_ratio: float | None = None
    samples_ms: list[float] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class HttpOperation:
    key: str
    label: str
    client: Client
    # i -> (method, path, JSON body or None)
    request: Callable[[int], tuple[str, str, dict | None]]
    expected_status: int = 200
    target: Target | None = None


class QueryCounter:
    """Count the statements sent to the database while installed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counting_queries() -> Iterator[QueryCounter]:
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def percentile(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``samples``."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _allowed_host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host == "*":
            return "localhost"
        if host.startswith("."):
            return f"bench{host}"
        return host
    return "localhost"


@contextmanager
def bench_settings() -> Iterator[None]:
    """DEBUG off, and throttles raised so that repeated runs are never refused.

    DRF throttles read their rates from the class attribute ``THROTTLE_RATES``
    (copied from settings at import), so that attribute is replaced for the run;
    the cache holding the throttle history is cleared before and after.
    """
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    unlimited = dict.fromkeys(
        {*api_settings.DEFAULT_THROTTLE_RATES, "anon", "user", "capture"},
        "1000000/s",
    )
    cache.clear()
    with ExitStack() as stack:
        stack.enter_context(override_settings(DEBUG=False))
        stack.enter_context(
            mock.patch.object(SimpleRateThrottle, "THROTTLE_RATES", unlimited)
        )
        stack.enter_context(jobs_queued())
        yield
    cache.clear()


@contextmanager
def jobs_queued() -> Iterator[None]:
    """Queue background jobs as production does, never run them in the request.

    Without a broker (tests, the demo) Celery runs a job inside the request
    that queued it, so a capture would also be timed sending its consent
    e-mail. Production only hands the job to the broker: an in-memory broker
    costs the same handing over, and the jobs are never run.
    """
    from crm.celery import app

    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, "memory://"
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved


def _client(user: User | None) -> Client:
    client = Client(HTTP_HOST=_allowed_host())
    if user is not None:
        client.force_login(user)
    return client


def _available(path: str) -> bool:
    try:
        resolve(path.split("?", 1)[0])
    except Resolver404:
        return False
    return True


def run_http(
    operation: HttpOperation, *, warmup: int, repeat: int, budget_seconds: float
) -> Result:
    """Warm up, then time ``repeat`` requests of one operation (fewer when they
    take more than ``budget_seconds`` in all: a slow KPI must not hold the run)."""
    result = Result(key=operation.key, label=operation.label)
    if operation.target is not None:
        result.target = operation.target.describe()
    method, path, _ = operation.request(0)
    if not _available(path):
        result.status = NOT_AVAILABLE
        result.note = f"{method} {path.split('?', 1)[0]} does not resolve"
        return result
    counts = []
    spent = 0.0
    for i in range(warmup + repeat):
        method, path, body = operation.request(i)
        with counting_queries() as counter:
            started = time.perf_counter()
            try:
                if method == "GET":
                    response = operation.client.get(path, secure=True)
                else:
                    send = getattr(operation.client, method.lower())
                    response = send(
                        path, body, content_type="application/json", secure=True
                    )
            except Exception as exc:
                result.status = "error"
                result.note = f"{type(exc).__name__}: {exc}"[:300]
                return result
            elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != operation.expected_status:
            result.status = "error"
            result.note = (
                f"HTTP {response.status_code} for {method} {path}: "
                f"{response.content[:200]!r}"
            )
            return result
        if i >= warmup:
            result.samples_ms.append(elapsed)
            counts.append(counter.count)
            spent += elapsed / 1000
            if spent > budget_seconds and len(result.samples_ms) >= MIN_RUNS:
                result.note = f"stopped after {budget_seconds:g} s of timed runs"
                break
    result.runs = len(result.samples_ms)
    result.median_ms = statistics.median(result.samples_ms)
    result.p95_ms = percentile(result.samples_ms, 0.95)
    result.queries = max(counts)
    result.queries_min = min(counts)
    if operation.target is not None and operation.target.median_ms is not None:
        result.met = result.median_ms < operation.target.median_ms
    _measure_floor(operation, result, index=warmup + repeat, repeat=repeat)
    return result


def _send(operation: HttpOperation, i: int):
    method, path, body = operation.request(i)
    if method == "GET":
        return operation.client.get(path, secure=True)
    send = getattr(operation.client, method.lower())
    return send(path, body, content_type="application/json", secure=True)


def _measure_floor(
    operation: HttpOperation, result: Result, *, index: int, repeat: int
) -> None:
    """Replay the operation's SQL without Django (bench/floors.py)."""
    statements = floors.record_statements(lambda: _send(operation, index))
    result.floor_ms = floors.replay_ms(statements, repeat=repeat, budget_seconds=10.0)
    result.vs_floor = floors.ratio(result.median_ms, result.floor_ms)


# --- the operations -------------------------------------------------------------


def _month_start(day, months_back: int):
    index = day.year * 12 + day.month - 1 - months_back
    return day.replace(year=index // 12, month=index % 12 + 1, day=1)


def http_operations(dataset: Dataset) -> list[HttpOperation]:
    """Return the HTTP operations, reads first, then writes, then the dashboard."""
    from bench.dashboard import dashboard_operations  # it imports this module

    users = User.objects.in_bulk(
        [dataset.integration_id, dataset.manager_ids[0], dataset.rep_ids[0]]
    )
    integration = _client(users[dataset.integration_id])
    manager = _client(users[dataset.manager_ids[0]])
    rep_user = users[dataset.rep_ids[0]]
    rep = _client(rep_user)
    anonymous = _client(None)
    team = dataset.team_ids[0]

    start, end = last_full_quarter(dataset.anchor.date())
    quarter = f"start={start}&end={end}"
    this_month = dataset.anchor.date().replace(day=1)
    churn_start = _month_start(this_month, 12)
    churn_end = this_month - datetime.timedelta(days=1)

    def get(path: str):
        return lambda i: ("GET", path, None)

    leads = f"/api/v1/leads/?owner={rep_user.pk}&status=lead&ordering=-created_at"
    rep_leads = Lead.objects.filter(owner=rep_user).count()
    deep_page = max(1, min(200, math.ceil(rep_leads / 50)))
    deals = "/api/v1/deals/?stage=presentation"

    open_deals = list(
        Deal.objects.filter(owner=rep_user, status=DealStatus.OPEN)
        .order_by("pk")
        .values_list("pk", "stage")[:200]
    )
    current = dict(open_deals)
    stages = [s.value for s in STAGE_ORDER]

    def move(i: int):
        if not open_deals:
            return ("POST", "/api/v1/deals/0/move/", {"stage": stages[0]})
        pk = open_deals[i % len(open_deals)][0]
        to_stage = stages[(stages.index(current[pk]) + 1 + i % 2) % len(stages)]
        current[pk] = to_stage
        return ("POST", f"/api/v1/deals/{pk}/move/", {"stage": to_stage})

    def capture(i: int):
        return (
            "POST",
            "/api/v1/capture/",
            {
                "offer": dataset.offer_slugs[i % len(dataset.offer_slugs)],
                "first_name": "Capture",
                "last_name": f"Bench {i}",
                "email": f"capture.{i}@{dataset.email_prefix}.capture.example",
                "company": "Bench Ltd",
                "job_title": "Buyer",
                "phone": "",
                "consent": True,
            },
        )

    def lead_create(i: int):
        return (
            "POST",
            "/api/v1/leads/",
            {
                "first_name": "Created",
                "last_name": f"Bench {i}",
                "email": f"created.{i}@{dataset.email_prefix}.create.example",
                "channel": "outbound",
                "source": "prospect_list",
            },
        )

    # Plain updates, field-level under the row lock (the version check's one
    # extra query is the lock).
    lead_pk = (
        Lead.objects.filter(owner=rep_user).order_by("pk").values_list("pk", flat=True)
    ).first() or 0
    company_pk = (
        Company.objects.filter(owner=rep_user)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
        or 0
    )

    def lead_update(i: int):
        return ("PATCH", f"/api/v1/leads/{lead_pk}/", {"job_title": f"Buyer {i}"})

    def company_update(i: int):
        return ("PATCH", f"/api/v1/companies/{company_pk}/", {"industry": f"I{i}"})

    # Ratio forms: the reference request took about 1 ms on the quiet 2-core
    # machine where the ms targets were set, so they carry the same numbers.
    # Global search (the workspace's /search/): a person's name as typed, with
    # a typo one time in two (the trigram match), rotating over known names.
    names = list(
        Lead.objects.filter(owner=rep_user)
        .exclude(last_name="")
        .order_by("pk")
        .values_list("last_name", flat=True)[:20]
    ) or ["Nobody"]

    def search(i: int):
        name = names[i % len(names)]
        if i % 2 and len(name) > 4:
            name = name[:2] + name[3] + name[2] + name[4:]  # two letters swapped
        return ("GET", f"/search/?q={quote(name)}", None)

    # An integration's list search (``?search=``), a known surname: its
    # matches are counted for the page, the worst case for the trigram index.
    def lead_search(i: int):
        name = names[i % len(names)]
        return ("GET", f"/api/v1/leads/?search={quote(name)}", None)

    # Ratio forms: the reference request took about 1 ms on the quiet 2-core
    # machine where the ms targets were set, so they carry the same numbers.
    list_target = Target(median_ms=25, reference_ratio=25)
    return [
        HttpOperation(
            "kpis_org",
            "KPIs, one quarter, organisation (integration)",
            integration,
            get(f"/api/v1/metrics/kpis/?{quarter}"),
            target=Target(median_ms=200, reference_ratio=200),
        ),
        HttpOperation(
            "kpis_team",
            "KPIs, one quarter, one team (its manager)",
            manager,
            get(f"/api/v1/metrics/kpis/?{quarter}&team={team}"),
        ),
        HttpOperation(
            "kpis_rep",
            "KPIs, one quarter, one rep (the rep)",
            rep,
            get(f"/api/v1/metrics/kpis/?{quarter}&owner={rep_user.pk}"),
            target=Target(median_ms=50, reference_ratio=50),
        ),
        HttpOperation(
            "funnel",
            "Funnel, one quarter, organisation",
            integration,
            get(f"/api/v1/metrics/funnel/?{quarter}"),
        ),
        HttpOperation(
            "churn_12m",
            "Churn series, 12 months, organisation",
            integration,
            get(
                f"/api/v1/metrics/churn/?start={churn_start}&end={churn_end}"
                "&interval=month"
            ),
        ),
        HttpOperation(
            "leads_p1",
            "Lead list p1, owner+status, newest (50 rows)",
            rep,
            get(leads),
            target=list_target,
        ),
        HttpOperation(
            "leads_p1_10",
            "same list, 10 rows per page",
            rep,
            get(f"{leads}&page_size=10"),
            target=Target(same_queries_as="leads_p1"),
        ),
        HttpOperation(
            "leads_p1_500",
            "same list, 500 rows per page",
            rep,
            get(f"{leads}&page_size=500"),
            target=Target(same_queries_as="leads_p1"),
        ),
        HttpOperation(
            "leads_deep",
            f"Lead list, rep's all, page {deep_page} (50 rows)",
            rep,
            get(
                f"/api/v1/leads/?owner={rep_user.pk}&ordering=-created_at"
                f"&page={deep_page}"
            ),
        ),
        HttpOperation(
            "deals_stage",
            "Deal list by stage, team (manager, 50 rows)",
            manager,
            get(deals),
            target=list_target,
        ),
        HttpOperation(
            "deals_stage_10",
            "same list, 10 rows per page",
            manager,
            get(f"{deals}&page_size=10"),
            target=Target(same_queries_as="deals_stage"),
        ),
        HttpOperation(
            "deals_stage_500",
            "same list, 500 rows per page",
            manager,
            get(f"{deals}&page_size=500"),
            target=Target(same_queries_as="deals_stage"),
        ),
        HttpOperation(
            "search_rep",
            "Global search /search/?q=name (rep's scope)",
            rep,
            search,
            target=Target(median_ms=50),
        ),
        HttpOperation(
            "search_all",
            "Global search /search/?q=name (integration: every record)",
            integration,
            search,
            target=Target(median_ms=50),
        ),
        HttpOperation(
            "leads_search_api",
            "Lead list ?search=name (integration: every lead, 50 rows)",
            integration,
            lead_search,
        ),
        HttpOperation(
            "board",
            "Board page /pipeline/ (rep)",
            rep,
            get("/pipeline/"),
        ),
        HttpOperation(
            "floor",
            "Floor: bare Django view inserting one row (POST, anonymous)",
            anonymous,
            floor_request,
            expected_status=201,
        ),
        HttpOperation(
            "lead_create",
            "Lead create POST leads/ (rep)",
            rep,
            lead_create,
            expected_status=201,
            target=Target(median_ms=15),
        ),
        HttpOperation(
            "deal_move",
            "Stage move POST deals/{id}/move/ (rep)",
            rep,
            move,
            target=Target(median_ms=15, reference_ratio=15),
        ),
        HttpOperation(
            "capture",
            "Lead capture POST capture/ (anonymous, new e-mail)",
            anonymous,
            capture,
            expected_status=201,
            target=Target(median_ms=15, reference_ratio=15),
        ),
        HttpOperation(
            "lead_update",
            "Lead update PATCH leads/{id}/ (rep, one field)",
            rep,
            lead_update,
            target=Target(median_ms=15, reference_ratio=15),
        ),
        HttpOperation(
            "company_update",
            "Company update PATCH companies/{id}/ (rep, one field)",
            rep,
            company_update,
            target=Target(median_ms=15, reference_ratio=15),
        ),
        *dashboard_operations(dataset),
    ]


def import_csv_text(dataset: Dataset, rows: int) -> str:
    """Return a prospect list: 95% new people, 5% already known (merged)."""
    usernames = list(
        User.objects.filter(pk__in=dataset.rep_ids)
        .order_by("pk")
        .values_list("username", flat=True)
    )
    known = list(
        Lead.objects.filter(owner_id__in=dataset.rep_ids)
        .order_by("pk")
        .values_list("email", flat=True)[: max(1, rows // 20)]
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "first_name",
            "last_name",
            "email",
            "phone",
            "job_title",
            "company_name",
            "channel",
            "source",
            "status",
            "owner",
        ]
    )
    for i in range(rows):
        email = (
            known[i // 20 % len(known)]
            if known and i % 20 == 19
            else f"import.{i}@{dataset.email_prefix}.import.example"
        )
        writer.writerow(
            [
                "Imported",
                f"Person {i}",
                email,
                f"+49 30 {i:07d}",
                "Buyer",
                f"Import Co {i % 1000}",
                "outbound",
                "prospect_list",
                "prospect",
                usernames[i % len(usernames)],
            ]
        )
    return out.getvalue()


def run_import(dataset: Dataset) -> Result:
    """Time the leads app's CSV import of ``import_rows`` rows, once."""
    rows = dataset.sizes["import_rows"]
    target = Target(rows_per_second=20_000)
    result = Result(
        key=IMPORT_KEY,
        label=f"CSV import, {rows:,} rows (leads_import)",
        target=target.describe(),
    )
    try:
        from leads.importing import ImportMode, leads_import
    except ImportError as exc:
        result.status = NOT_AVAILABLE
        result.note = str(exc)
        return result
    text = import_csv_text(dataset, rows)
    with counting_queries() as counter:
        started = time.perf_counter()
        try:
            report = leads_import(
                file=io.StringIO(text, newline=""),
                by=None,
                mode=ImportMode.KEEP_VALID,
                progress=False,
            )
        except Exception as exc:
            result.status = "error"
            result.note = f"{type(exc).__name__}: {exc}"[:300]
            return result
        seconds = time.perf_counter() - started
    result.runs = 1
    result.median_ms = result.p95_ms = seconds * 1000
    result.queries = result.queries_min = counter.count
    result.rows = rows
    result.rows_per_second = rows / seconds
    result.met = result.rows_per_second >= 20_000
    result.note = (
        f"{report.created} created, {report.merged} merged, "
        f"{len(report.rejected)} rejected"
    )
    return result


def measure(
    dataset: Dataset,
    *,
    warmup: int,
    repeat: int,
    progress: Callable[[str], None],
    budget_seconds: float = 60.0,
    on_reference: Callable[[floors.Reference], None] | None = None,
    only: frozenset[str] | None = None,
) -> list[Result]:
    """Run every operation (or those keyed in ``only``); return one result each,
    in the report's order.

    ``on_reference`` receives the reference measured in the same run.
    """
    results = []
    with bench_settings(), floor_mounted():
        progress("measuring the reference request")
        reference = floors.measure_reference(
            _client(None), available=_available(floors.REFERENCE_PATH)
        )
        operations = [
            operation
            for operation in http_operations(dataset)
            if only is None or operation.key in only
        ]
        for operation in operations:
            progress(f"measuring {operation.key}")
            results.append(
                run_http(
                    operation,
                    warmup=warmup,
                    repeat=repeat,
                    budget_seconds=budget_seconds,
                )
            )
        from bench.dashboard import judge_ratios  # it imports this module

        progress("timing the dashboard pages and their KPIs alternately")
        judge_ratios(results, operations, warmup=warmup, repeat=repeat)
        if only is None or IMPORT_KEY in only:
            progress(f"measuring {IMPORT_KEY}")
            results.append(run_import(dataset))
    ratios(results)
    by_key = {r.key: r for r in results}
    targets = {op.key: op.target for op in operations if op.target is not None}
    requests = {op.key for op in operations}
    for result in results:
        if result.key not in requests:
            continue  # not a request (the CSV import)
        result.vs_reference = floors.ratio(result.median_ms, reference.request_ms)
        target = targets.get(result.key)
        if target and target.reference_ratio and result.vs_reference is not None:
            result.met_ratio = result.vs_reference < target.reference_ratio
    if on_reference is not None:
        on_reference(reference)
    for result in results:
        if result.target.startswith("queries = "):
            reference = by_key.get(result.target.removeprefix("queries = "))
            if (
                result.queries is not None
                and reference is not None
                and reference.queries is not None
            ):
                result.met = (result.queries, result.queries_min) == (
                    reference.queries,
                    reference.queries_min,
                )
    return results
