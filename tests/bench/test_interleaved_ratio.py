"""The dashboard page is judged against its KPI endpoint timed alternately, so
that a machine slowing down during the run slows both alike."""

from types import SimpleNamespace

import pytest

from bench import dashboard
from bench.measure import HttpOperation


def test_a_drift_during_the_run_does_not_move_the_ratio(monkeypatch):
    clock, sent = [0.0], []
    monkeypatch.setattr(dashboard.time, "perf_counter", lambda: clock[0])

    class Client:
        def __init__(self, name: str, seconds: float):
            self.name, self.seconds = name, seconds

        def get(self, path, secure):
            sent.append(self.name)
            slower = 3 if len(sent) > 20 else 1  # the machine slows down midway
            clock[0] += self.seconds * slower
            return SimpleNamespace(status_code=200)

    def operation(name: str, seconds: float) -> HttpOperation:
        return HttpOperation(
            name, name, Client(name, seconds), lambda i: ("GET", f"/{name}", None)
        )

    ratio = dashboard.interleaved_ratio(
        operation("page", 0.002), operation("endpoint", 0.001), warmup=0, repeat=20
    )

    assert sent[:4] == ["endpoint", "page", "endpoint", "page"]
    # The page costs twice its endpoint at either speed.
    assert ratio == pytest.approx(2.0)
