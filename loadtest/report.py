"""The load test's figures: per operation and overall, against the targets.

Latencies are computed from every request locust made (nearest-rank
percentiles, not locust's rounded buckets), as seen by the load generator
through nginx. docs/loadtest.md keeps everything outside its results markers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

START = "<!-- loadtest:results:start -->"
END = "<!-- loadtest:results:end -->"

TARGET_RPS = 100.0
TARGET_P95_MS = 300.0
TARGET_ERROR_RATE = 0.005


def percentile(samples: list[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def _failed(r: dict) -> bool:
    return not (200 <= r["status"] < 400) or r["error"] is not None


def figures(
    requests: list[dict],
    *,
    steady_from: float,
    steady_to: float,
    kill_window: tuple[float, float] | None,
) -> dict:
    """Return the overall and per-operation figures of the steady phase."""
    steady = [r for r in requests if steady_from <= r["t"] <= steady_to]
    seconds = max(1e-9, steady_to - steady_from)

    def in_window(r: dict) -> bool:
        return kill_window is not None and kill_window[0] <= r["t"] <= kill_window[1]

    def stats(rows: list[dict]) -> dict:
        ms = [r["ms"] for r in rows]
        failures = [r for r in rows if _failed(r)]
        return {
            "requests": len(rows),
            "per_second": round(len(rows) / seconds, 2),
            "failures": len(failures),
            "p50_ms": _round(percentile(ms, 0.50)),
            "p95_ms": _round(percentile(ms, 0.95)),
            "p99_ms": _round(percentile(ms, 0.99)),
            "max_ms": _round(max(ms) if ms else None),
        }

    names = sorted({r["name"] for r in steady})
    overall = stats(steady)
    every_failure = [r for r in requests if _failed(r)]
    server_errors = [r for r in requests if r["status"] >= 500]
    overall.update(
        {
            "error_rate": round(len(every_failure) / max(1, len(requests)), 5),
            "all_requests": len(requests),
            "all_failures": len(every_failure),
            "failures_in_kill_window": sum(1 for r in every_failure if in_window(r)),
            "server_errors": len(server_errors),
            "server_errors_outside_kill_window": sum(
                1 for r in server_errors if not in_window(r)
            ),
            "failures_outside_kill_window": sum(
                1 for r in every_failure if not in_window(r)
            ),
            "failure_kinds": _kinds(every_failure),
        }
    )
    return {
        "steady_seconds": round(seconds, 1),
        "overall": overall,
        "operations": {
            name: stats([r for r in steady if r["name"] == name]) for name in names
        },
    }


NETWORK_ERRORS = {
    "timed out": "no answer within the client's 30 s",
    "refused": "connection refused",
    "reset": "connection reset",
    "closed": "connection closed",
}


def _kind(r: dict) -> str:
    if r["status"]:
        return f"HTTP {r['status']}"
    error = (r["error"] or "").lower()
    for needle, kind in NETWORK_ERRORS.items():
        if needle in error:
            return kind
    return "no answer (other)"


def _kinds(failures: list[dict]) -> dict:
    kinds: dict[str, int] = {}
    for r in failures:
        kinds[_kind(r)] = kinds.get(_kind(r), 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def verdicts(record: dict, *, short: bool) -> dict:
    """Return each target with whether it was met."""
    overall = record["figures"]["overall"]
    violations = sum(c["violations"] for c in record["integrity"])
    checks = {
        "zero integrity violations": violations == 0,
        "no 5xx outside the kill window": overall["server_errors_outside_kill_window"]
        == 0,
    }
    if not short:
        checks.update(
            {
                f">= {TARGET_RPS:g} requests/s mixed": overall["per_second"]
                >= TARGET_RPS,
                f"p95 < {TARGET_P95_MS:g} ms": (overall["p95_ms"] or 0) < TARGET_P95_MS,
                f"error rate < {TARGET_ERROR_RATE:.1%}": overall["error_rate"]
                < TARGET_ERROR_RATE,
            }
        )
    return checks


def markdown(record: dict) -> str:
    f = record["figures"]
    o = f["overall"]
    run = record["run"]
    lines = [
        f"Run {run['date']}: {run['description']}",
        "",
        f"Machine: {run['machine']}. Dataset: scale {run['scale']:g} "
        f"({_rows(record['dataset'])}).",
        "",
        f"**{o['per_second']:.1f} requests/s** over the {f['steady_seconds']:g} s "
        f"after the ramp-up; p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, "
        f"p99 {o['p99_ms']} ms; {o['all_failures']} failed of "
        f"{o['all_requests']} ({o['error_rate']:.2%}), "
        f"{o['failures_in_kill_window']} of them in the kill window; "
        f"5xx outside the kill window: {o['server_errors_outside_kill_window']}.",
        "",
    ]
    if record.get("kill"):
        k = record["kill"]
        lines += [
            f"Kill: app server on port {k['port']} killed (SIGKILL, master and "
            f"workers) {k['at_seconds']:g} s into the run, started again, back "
            f"after {k['down_seconds']:.1f} s; window counted as "
            f"{k['window_seconds']:.1f} s.",
            "",
        ]
    if o["failure_kinds"]:
        kinds = ", ".join(f"{k}: {n}" for k, n in o["failure_kinds"].items())
        lines += [f"Failures by kind: {kinds}.", ""]
    lines += [
        "| Operation | Requests | req/s | Failures "
        "| p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in f["operations"].items():
        lines.append(
            f"| {name} | {s['requests']} | {s['per_second']} | {s['failures']} | "
            f"{s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['max_ms']} |"
        )
    lines += ["", "| Target | Met |", "|---|---|"]
    for target, met in record["verdicts"].items():
        lines.append(f"| {target} | {'yes' if met else 'NO'} |")
    lines += ["", "| Integrity check | Checked | Violations |", "|---|---:|---:|"]
    for check in record["integrity"]:
        lines.append(
            f"| {check['check']} | {check['checked']} | {check['violations']} |"
        )
    cpu = record["cpu"]
    lines += [
        "",
        f"CPU over {cpu['seconds']:g} s on {cpu['cores']} cores "
        f"({cpu['machine_busy_cpu_seconds']:g} CPU-seconds busy in all):",
        "",
        "| Processes | CPU-seconds | Cores used | Share of the machine |",
        "|---|---:|---:|---:|",
    ]
    for group, g in cpu["groups"].items():
        lines.append(
            f"| {group} | {g['cpu_seconds']} | {g['cores']} | "
            f"{g['share_of_machine']:.0%} |"
        )
    app = cpu["groups"].get("app servers", {}).get("cpu_seconds") or 0
    if app:
        per_core = o["all_requests"] / app
        lines += [
            "",
            f"Requests per app-server core: {per_core:.0f} requests per CPU-second "
            f"of the app servers.",
        ]
    return "\n".join(lines)


def _rows(dataset: dict) -> str:
    rows = dataset.get("rows") or {}
    return ", ".join(f"{table} {n:,}" for table, n in rows.items()) or "-"


def write_markdown(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else f"# Load test\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{START}\n{section}\n{END}{after}")


def write_json(path: Path, record: dict) -> None:
    path.write_text(json.dumps(record, indent=2) + "\n")
