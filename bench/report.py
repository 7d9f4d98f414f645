"""The benchmark's table: printed, and saved as JSON and as Markdown.

The Markdown file keeps everything outside the results markers, so the analysis
written around the figures survives a re-run.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sqlite3
from dataclasses import asdict
from pathlib import Path

import django
from django.db import connection

from bench.floors import Reference
from bench.generate import Dataset
from bench.measure import Result

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"

MARKDOWN_TEMPLATE = f"""# Benchmarks

`make bench` (`python -m bench`, see `bench/`) generates a synthetic CRM in
a database of its own, measures the operations below through the real stack
and writes this table. The section between the markers is rewritten by
each run; the analysis around it is kept.

{START}
{END}
"""


def machine() -> dict:
    """Return the cores, memory and database of this run."""
    memory_gb = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
    elif connection.vendor == "sqlite":
        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        database = connection.vendor
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "database": database,
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
    }


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _met(result: Result) -> str:
    if result.met is None:
        return ""
    shown = "yes" if result.met else "NO"
    if result.met_ratio is not None:
        # The ms target on this machine, then its ratio form.
        shown += " / " + ("yes" if result.met_ratio else "NO")
    return shown


def rows_of(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        if r.status != "ok":
            rows.append(
                [r.label, r.status, "", "", "", "", "", "", r.target, "", r.note]
            )
            continue
        queries = str(r.queries)
        if r.queries_min is not None and r.queries_min != r.queries:
            queries = f"{r.queries_min}-{r.queries}"
        extra = r.note
        if r.rows_per_second is not None:
            extra = f"{r.rows_per_second:,.0f} rows/s; {r.note}"
        rows.append(
            [
                r.label,
                _number(r.median_ms),
                _number(r.p95_ms),
                _number(r.floor_ms, 2),
                _times(r.vs_floor),
                _times(r.vs_reference),
                queries,
                str(r.runs),
                r.target,
                _met(r),
                extra,
            ]
        )
    return rows


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}x"


HEADER = [
    "Operation",
    "Median ms",
    "p95 ms",
    "Floor ms",
    "x floor",
    "x ref",
    "Queries",
    "Runs",
    "Target",
    "Met",
    "",
]


def text_table(results: list[Result]) -> str:
    rows = [HEADER, *rows_of(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(width) if i in (0, 8, 10) else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(dataset: Dataset, run: dict) -> str:
    rows = ", ".join(f"{t} {n:,}" for t, n in dataset.rows.items())
    m = run["machine"]
    return (
        f"Run {run['date']} on {m['cores']} cores, {m['memory_gb']} GB, "
        f"{m['database']} (Python {m['python']}, Django {m['django']}); "
        f"scale {dataset.scale:g}, warm-up {run['warmup']}, "
        f"{run['repeat']} timed runs per operation.\n"
        f"Generation: {dataset.total_seconds:,.1f} s for {rows}."
        + _reference_line(run.get("reference"))
    )


def _reference_line(reference: dict | None) -> str:
    if not reference:
        return ""
    request = reference["request_ms"]
    shown = "not available" if request is None else f"{request:.3f} ms"
    return (
        f"\nReference request (`{reference['request']}`): {shown}; "
        f"reference CPU loop (`{reference['cpu_loop']}`): "
        f"{reference['cpu_loop_ms']:.2f} ms."
    )


def markdown_section(dataset: Dataset, results: list[Result], run: dict) -> str:
    lines = [summary(dataset, run).replace("\n", "\n\n"), ""]
    lines.append("| " + " | ".join([*HEADER[:-1], "Notes"]) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * 7 + ["---", "---", "---"]) + "|")
    for row in rows_of(results):
        cells = [c.replace("|", "\\|").strip() for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Times are wall-clock through `django.test.Client` (middleware, session "
        "authentication, DRF, serializers, templates), DEBUG off. Queries include "
        "the session and user look-ups of the logged-in client (2 per request). "
        "Floor: the same SQL statements replayed through psycopg alone, no Django "
        "(PostgreSQL only); x floor and x ref: the median as a multiple of the "
        "floor and of the reference request, figures that move far less than "
        "milliseconds from one machine to another (bench/floors.py). Met: the "
        "ms target / its ratio form."
    )
    return "\n".join(lines)


def write_markdown(path: Path, section: str) -> None:
    """Replace the results section of ``path`` (created from a template)."""
    text = path.read_text() if path.exists() else MARKDOWN_TEMPLATE
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{before}{START}\n{section}\n{END}{after}")


def run_record(
    dataset: Dataset,
    results: list[Result],
    *,
    warmup: int,
    repeat: int,
    reference: Reference | None = None,
) -> dict:
    """Return the JSON document of a run."""
    return {
        "reference": reference.as_dict() if reference is not None else None,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "warmup": warmup,
        "repeat": repeat,
        "dataset": {
            "scale": dataset.scale,
            "seed": dataset.seed,
            "anchor": dataset.anchor.isoformat(),
            "rows": dataset.rows,
            "generation_seconds": round(dataset.total_seconds, 2),
            "seconds_per_table": {t: round(s, 2) for t, s in dataset.seconds.items()},
        },
        "results": [
            {
                k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in asdict(r).items()
                if k != "samples_ms"
            }
            for r in results
        ],
    }


def write_json(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
