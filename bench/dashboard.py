"""The KPI dashboard page measured next to the KPI endpoint it draws from.

For the organisation (an admin) and a team (its manager), one quarter: the
KPI endpoint, the page as a reader sees it again while the data has not
changed (its report from the cache), the page right after a change (a write
before each request moves the data version: the report is computed), one
chart drawn after a change, and a chart's revalidation (304). Each page is
judged by its ratio to the endpoint (target: at most 1.5), the two timed
alternately (``interleaved_ratio``).
"""

from __future__ import annotations

import statistics
import time

from bench.generate import Dataset, last_full_quarter
from bench.measure import HttpOperation, Result
from bench.measure import _client as client_for
from crm.models import User
from metrics.models import DataChange

RATIO_TARGET = 1.5
# page key -> the KPI endpoint of the same scope and period.
PAGES = {
    "dashboard_org": "dash_kpis_org",
    "dashboard_org_changed": "dash_kpis_org",
    "dashboard_team": "dash_kpis_team",
    "dashboard_team_changed": "dash_kpis_team",
}


def _staff(dataset: Dataset) -> tuple[User, User]:
    """Return an admin and the first team's manager, both allowed in the admin."""
    User.objects.filter(pk=dataset.manager_ids[0]).update(is_staff=True)
    admin, _ = User.objects.get_or_create(
        username=f"bench-admin-{dataset.email_prefix}",
        defaults={"is_staff": True, "is_superuser": True},
    )
    return admin, User.objects.get(pk=dataset.manager_ids[0])


def dashboard_operations(dataset: Dataset) -> list[HttpOperation]:
    """Return the dashboard's operations, each KPI endpoint before its pages."""
    admin_user, manager_user = _staff(dataset)
    admin, manager = client_for(admin_user), client_for(manager_user)
    start, end = last_full_quarter(dataset.anchor.date())
    quarter = f"start={start}&end={end}"
    team = f"team={dataset.team_ids[0]}"
    page = "/admin/metrics/dashboard/"
    chart = page + "chart/{}.svg?" + quarter

    def get(path: str):
        return lambda i: ("GET", path, None)

    def after_a_change(path: str):
        def request(i: int):
            # What a reader meets after a write: the write appended to a
            # ledger (here DataChange, the ledger of in-place edits), so the
            # data version moved and nothing is cached for it. Not a cleared
            # cache: that also logged the reader's session out of it (one
            # more query a real reader does not pay after someone's write).
            DataChange.objects.create(model="bench.change", object_id=str(i))
            return ("GET", path, None)

        return request

    revalidating = client_for(admin_user)

    def conditional(i: int):
        path = chart.format("churn")
        if "HTTP_IF_NONE_MATCH" not in revalidating.defaults:
            etag = revalidating.get(path, secure=True)["ETag"]
            revalidating.defaults["HTTP_IF_NONE_MATCH"] = etag
        return ("GET", path, None)

    return [
        HttpOperation(
            "dash_kpis_org",
            "KPIs, one quarter, organisation (admin)",
            admin,
            get(f"/api/v1/metrics/kpis/?{quarter}"),
        ),
        HttpOperation(
            "dashboard_org",
            "Dashboard page, organisation (admin), data unchanged",
            admin,
            get(f"{page}?{quarter}"),
        ),
        HttpOperation(
            "dashboard_org_changed",
            "Dashboard page, organisation (admin), after a change",
            admin,
            after_a_change(f"{page}?{quarter}"),
        ),
        # The team's pages, like the organisation's, are judged against their
        # endpoint measured just before them, not minutes earlier with the
        # other KPIs (kpis_team): a machine whose speed drifts during the run
        # would otherwise move the ratio.
        HttpOperation(
            "dash_kpis_team",
            "KPIs, one quarter, one team (its manager)",
            manager,
            get(f"/api/v1/metrics/kpis/?{quarter}&{team}"),
        ),
        HttpOperation(
            "dashboard_team",
            "Dashboard page, one team (its manager), data unchanged",
            manager,
            get(f"{page}?{quarter}&{team}"),
        ),
        HttpOperation(
            "dashboard_team_changed",
            "Dashboard page, one team (its manager), after a change",
            manager,
            after_a_change(f"{page}?{quarter}&{team}"),
        ),
        HttpOperation(
            "dashboard_chart_changed",
            "Dashboard chart, 12-month churn, organisation, after a change",
            admin,
            after_a_change(chart.format("churn")),
        ),
        HttpOperation(
            "dashboard_chart_304",
            "Dashboard chart revalidated (If-None-Match, 304)",
            revalidating,
            conditional,
            expected_status=304,
        ),
    ]


# The alternated requests' numbers, apart from run_http's (a change's id).
INTERLEAVED = 100_000


def _timed_ms(operation: HttpOperation, i: int) -> float:
    """Time one GET of ``operation`` (its change, if it makes one, untimed)."""
    _, path, _ = operation.request(i)
    started = time.perf_counter()
    response = operation.client.get(path, secure=True)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != operation.expected_status:
        raise RuntimeError(f"HTTP {response.status_code} for GET {path}")
    return elapsed


def interleaved_ratio(
    page: HttpOperation, endpoint: HttpOperation, *, warmup: int, repeat: int
) -> float:
    """Time the endpoint and the page alternately, ``repeat`` pairs after
    ``warmup``; return the ratio of their medians.

    Measured one after the other, the two medians came from different
    minutes of the run: on a machine whose speed drifts, the page's ratio
    moved from 1.0x to 1.65x between runs of the same code. Alternating
    them, a drift slows both alike.
    """
    pages, endpoints = [], []
    for i in range(warmup + repeat):
        timed = _timed_ms(endpoint, INTERLEAVED + i), _timed_ms(page, INTERLEAVED + i)
        if i >= warmup:
            endpoints.append(timed[0])
            pages.append(timed[1])
    return statistics.median(pages) / statistics.median(endpoints)


def judge_ratios(
    results: list[Result],
    operations: list[HttpOperation],
    *,
    warmup: int,
    repeat: int,
) -> None:
    """Judge each page by its ratio to its KPI endpoint, timed alternately."""
    by_key = {result.key: result for result in results}
    by_op = {operation.key: operation for operation in operations}
    for page, endpoint in PAGES.items():
        result = by_key.get(page)
        if (
            result is None
            or result.median_ms is None
            or page not in by_op
            or endpoint not in by_op
        ):
            continue
        ratio = interleaved_ratio(
            by_op[page], by_op[endpoint], warmup=warmup, repeat=repeat
        )
        result.note = f"{ratio:.2f}x {endpoint}, timed alternately" + (
            f"; {result.note}" if result.note else ""
        )
        result.target = f"<= {RATIO_TARGET:g}x {endpoint}"
        result.met = ratio <= RATIO_TARGET
