"""Figures that survive a change of machine: each operation next to its floor
and to a fixed reference, measured in the same run.

- The **floor** of an operation is the time of the very SQL statements Django
  sent for it, replayed directly through psycopg on the same connection with
  no Django at all (no ORM, middleware, serializers or templates): what the
  database alone costs. The statements are recorded with an
  ``execute_wrapper`` during one untimed request run inside a transaction that
  is rolled back, so a write's replay meets the same rows as the request did;
  each replay is rolled back too. PostgreSQL only (psycopg); on SQLite the
  floor is not measured.
- The **reference request** is ``GET /healthz`` through the whole Django stack
  (every middleware, no database): the fixed cost of any request on this
  machine. The **reference CPU loop** is a fixed pure-Python computation.

A machine twice as slow doubles every millisecond but leaves the ratios
(operation / floor, operation / reference request) about where they were, so
targets stated as ratios are met or missed for the code's sake, not the
machine's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

# Statements of the capture's own wrapping transaction, not of the request.
_WRAPPER_STATEMENTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
REFERENCE_PATH = "/healthz"
CPU_LOOP_N = 200_000


@dataclass(frozen=True)
class Reference:
    request_ms: float | None
    cpu_loop_ms: float
    runs: int

    def as_dict(self) -> dict:
        return {
            "request": f"GET {REFERENCE_PATH} (full middleware stack, no database)",
            "request_ms": None
            if self.request_ms is None
            else round(self.request_ms, 3),
            "cpu_loop": f"sum(i * i for i in range({CPU_LOOP_N:_}))",
            "cpu_loop_ms": round(self.cpu_loop_ms, 3),
            "runs": self.runs,
        }


def _cpu_loop() -> int:
    return sum(i * i for i in range(CPU_LOOP_N))


def _median_ms(run: Callable[[], object], *, warmup: int, repeat: int) -> float:
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure_reference(client, *, available: bool, repeat: int = 50) -> Reference:
    """Time the reference request (when the URL exists) and the CPU loop."""
    request_ms = None
    if available:
        request_ms = _median_ms(
            lambda: client.get(REFERENCE_PATH, secure=True), warmup=5, repeat=repeat
        )
    cpu_ms = _median_ms(_cpu_loop, warmup=1, repeat=max(5, repeat // 5))
    return Reference(request_ms=request_ms, cpu_loop_ms=cpu_ms, runs=repeat)


class StatementRecorder:
    """Record what Django sends to the database, untouched."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, object, bool]] = []

    def __call__(self, execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(_WRAPPER_STATEMENTS):
            self.statements.append((sql, params, many))
        return execute(sql, params, many, context)


def record_statements(send: Callable[[], object]) -> list[tuple[str, object, bool]]:
    """Run ``send`` (one request) and return its statements; undo its writes."""
    recorder = StatementRecorder()
    with transaction.atomic():
        with connection.execute_wrapper(recorder):
            send()
        transaction.set_rollback(True)
    return recorder.statements


def replay_ms(
    statements: list[tuple[str, object, bool]], *, repeat: int, budget_seconds: float
) -> float | None:
    """Return the median time of the statements replayed through psycopg."""
    if connection.vendor != "postgresql" or not statements:
        return None
    import psycopg

    connection.ensure_connection()
    raw = connection.connection  # the driver's connection: Django is not involved

    def replay() -> None:
        with raw.transaction(force_rollback=True):
            # A client-side binding cursor, as Django's: the same text reaches
            # the server.
            cursor = psycopg.ClientCursor(raw)
            for sql, params, many in statements:
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
                if cursor.description is not None:
                    cursor.fetchall()
            cursor.close()

    replay()  # warm-up: plans and pages cached as for the timed request
    samples: list[float] = []
    spent = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        replay()
        elapsed = time.perf_counter() - started
        samples.append(elapsed * 1000)
        spent += elapsed
        if spent > budget_seconds and len(samples) >= 5:
            break
    return statistics.median(samples)


def ratio(value: float | None, to: float | None) -> float | None:
    if value is None or not to:
        return None
    return value / to
