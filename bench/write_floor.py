"""The floor request: a bare Django view inserting one row, measured in the run.

What no write of the CRM can beat on this machine and database: the request
through the same middleware and test client, one ``INSERT`` in its own
transaction, a tiny JSON answer. Each write is reported as a ratio to it, so
the comparison holds on any machine (issue 18: at most 2.5x the floor).

The view is mounted only for the benchmark (``floor_urls``, an URLconf that
adds it in front of the CRM's); its table is created in the bench database
and dropped with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.test import override_settings
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

FLOOR_PATH = "/bench/floor/"
TABLE = "bench_floor"
# The writes measured against the floor, and the ratio issue 18 allows.
WRITES = ("lead_create", "capture", "deal_move")
MAX_RATIO = 2.5


@csrf_exempt
def floor_view(request: HttpRequest) -> JsonResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (at, note) VALUES (%s, %s)",  # noqa: S608  # nosec B608
            [timezone.now(), request.POST.get("note", "")[:40]],
        )
    return JsonResponse({"ok": True}, status=201)


@contextmanager
def floor_mounted() -> Iterator[None]:
    """Create the floor's table and mount its view for the ``with`` block."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} "
            "(at TIMESTAMP WITH TIME ZONE NOT NULL, note VARCHAR(40) NOT NULL)"
        )
    urls = type(
        "FloorUrls",
        (),
        {
            "urlpatterns": [
                path(FLOOR_PATH.strip("/") + "/", floor_view),
                path("", include(import_module(settings.ROOT_URLCONF))),
            ]
        },
    )
    with override_settings(ROOT_URLCONF=urls):
        yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def floor_request(i: int) -> tuple[str, str, dict]:
    return ("POST", FLOOR_PATH, {"note": f"floor {i}"})


def ratios(results) -> None:
    """Note each write's median as a ratio to the floor's (in the same run)."""
    by_key = {r.key: r for r in results}
    floor = by_key.get("floor")
    if floor is None or not floor.median_ms:
        return
    for key in WRITES:
        result = by_key.get(key)
        if result is None or result.median_ms is None:
            continue
        ratio = result.median_ms / floor.median_ms
        result.floor_ratio = ratio
        note = f"{ratio:.2f}x the floor ({floor.median_ms:.1f} ms)"
        result.note = f"{note}; {result.note}" if result.note else note
        result.target = f"<= {MAX_RATIO:g}x floor"
        result.met = ratio <= MAX_RATIO
