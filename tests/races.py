"""Run calls at the same moment, each in its own thread and database connection.

For the PostgreSQL race tests: a barrier releases every thread at once, so
their transactions overlap as concurrent requests' would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from rest_framework.test import APIClient


def run_together(*calls: Callable[[], Any], timeout: float = 30) -> list[Any]:
    """Return each call's result (or the exception it raised), in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a racing call never finished"
    return results


def api_call(user, method: str, path: str, data: Any = None, **headers: str):
    """Return a call making one API request as ``user``, answering its status."""

    def call() -> int:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        response = getattr(client, method)(path, data, format="json", **headers)
        return response.status_code

    return call


def holding_row_lock(record, seconds: float = 0.3) -> Callable[[], None]:
    """Return a call that locks the record's row for a moment, then lets go.

    Run first among racers that start a beat later (``after``): they all
    queue behind the lock and are released together, which is when a writer
    holding stale values would overwrite a fresher one.
    """

    def call() -> None:
        with transaction.atomic():
            type(record).objects.select_for_update().get(pk=record.pk)
            time.sleep(seconds)

    return call


def after(seconds: float, call: Callable[[], Any]) -> Callable[[], Any]:
    """Return ``call`` delayed by ``seconds`` (behind ``holding_row_lock``)."""

    def delayed() -> Any:
        time.sleep(seconds)
        return call()

    return delayed
