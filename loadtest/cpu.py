"""Where the CPU went during the run, per group of processes (psutil).

Every second the sampler reads the cumulative CPU time (user + system) of each
process of each group: the trees of the processes we started (app servers,
workers, load balancer, load generator) and the PostgreSQL server's processes
(the backends of the load test's database and the server's own background
processes; other databases' backends are someone else's). A process seen for
the first time after the start counts from zero, one that ends keeps its last
reading. The machine's total comes from /proc/stat, so what is left over is
what other programs on the machine used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil

BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


def _machine_busy() -> float:
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in BUSY_FIELDS)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    # Not the children's fields: a reaped worker's time would count twice.
    return times.user + times.system


class CpuSampler:
    def __init__(
        self,
        roots: Callable[[], dict[str, list[int]]],
        *,
        database: str,
        interval: float = 1.0,
    ) -> None:
        self.roots = roots
        self.database = database
        self.interval = interval
        self.base: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started_at = 0.0
        self.seconds = 0.0
        self.machine_busy = 0.0

    def _postgres(self) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            if process.info["name"] != "postgres":
                continue
            title = " ".join(process.info["cmdline"] or [])
            is_backend = "127.0.0.1(" in title or "[local]" in title
            if (not is_backend and "replica" not in title) or (
                f" {self.database} " in title
            ):
                found.append(process)
        return found

    def _members(self) -> dict[int, str]:
        members: dict[int, str] = {}
        for group, pids in self.roots().items():
            for pid in pids:
                try:
                    root = psutil.Process(pid)
                    tree = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                for process in tree:
                    members[process.pid] = group
        for process in self._postgres():
            members.setdefault(process.pid, "database")
        return members

    def sample(self, *, first: bool = False) -> None:
        for pid, group in self._members().items():
            try:
                used = _cpu(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
            if pid not in self.base:
                self.base[pid] = used if first else 0.0
            self.last[pid] = (group, used)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.machine_start = _machine_busy()
        self.sample(first=True)
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self.sample()
        self.seconds = time.monotonic() - self.started_at
        self.machine_busy = _machine_busy() - self.machine_start
        return self.report()

    def report(self) -> dict:
        by_group: dict[str, float] = {}
        for pid, (group, used) in self.last.items():
            by_group[group] = by_group.get(group, 0.0) + max(0.0, used - self.base[pid])
        cores = psutil.cpu_count() or 1
        ours = sum(by_group.values())
        by_group["other programs on the machine"] = max(0.0, self.machine_busy - ours)
        capacity = cores * self.seconds
        return {
            "seconds": round(self.seconds, 1),
            "cores": cores,
            "machine_busy_cpu_seconds": round(self.machine_busy, 1),
            "groups": {
                group: {
                    "cpu_seconds": round(used, 1),
                    "cores": round(used / self.seconds, 2) if self.seconds else 0,
                    "share_of_machine": round(used / capacity, 3) if capacity else 0,
                }
                for group, used in sorted(by_group.items(), key=lambda kv: -kv[1])
            },
        }
