"""The benchmark's command line: ``python -m bench`` (``make bench``).

Creates a database of its own next to the one in DATABASE_URL, fills it with a
synthetic CRM (``--scale 1``: a million leads), measures the API, the board and
the CSV import on it, prints the table, writes docs/benchmarks.json and the
results section of docs/benchmarks.md, and drops the database.

``run`` expects Django to be set up (``__main__`` does it; the test suite has).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.db import connection

from bench import rollup_check
from bench.database import bench_database, is_test_database
from bench.generate import SEED, generate
from bench.measure import measure
from bench.report import (
    markdown_section,
    run_record,
    summary,
    text_table,
    write_json,
    write_markdown,
)


class UsageError(Exception):
    """A combination of options the benchmark refuses."""


def _keys(text: str) -> frozenset[str]:
    keys = frozenset(key.strip() for key in text.split(",") if key.strip())
    if not keys:
        raise argparse.ArgumentTypeError("name at least one operation")
    return keys


def parser() -> argparse.ArgumentParser:
    docs = Path(settings.BASE_DIR) / "docs"
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the CRM on a generated dataset in a separate "
        "database (never your data) and write docs/benchmarks.md and .json.",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="1.0 = 1,000,000 leads, 200,000 deals, 2,000,000 activities.",
    )
    parser.add_argument("--repeat", type=int, default=20, help="Timed runs.")
    parser.add_argument("--warmup", type=int, default=3, help="Untimed runs.")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="Seconds of timed runs per operation before it stops early "
        "(after at least 5 runs).",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Keep the bench database afterwards (for EXPLAIN ANALYZE).",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="Write the synthetic data into the current database instead of a "
        "new one (for the test suite's test database only).",
    )
    parser.add_argument(
        "--generate-only",
        action="store_true",
        help="Generate the dataset and stop before measuring (with --keep: "
        "a database to investigate with EXPLAIN ANALYZE).",
    )
    parser.add_argument(
        "--only",
        type=_keys,
        default=None,
        metavar="KEY,KEY",
        help="Measure only these operations (keys as in docs/benchmarks.json, "
        "e.g. search_rep,search_all); implies --no-write, as the table would "
        "lose the others.",
    )
    parser.add_argument("--json", type=Path, default=docs / "benchmarks.json")
    parser.add_argument("--markdown", type=Path, default=docs / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="Print the table only.")
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2],
        default=1,
        help="0: the table only; 2: every measured operation as it runs.",
    )
    return parser


def run(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv``, then generate, measure and report (raises UsageError)."""
    options = parser().parse_args(argv)
    if options.generate_only and not options.keep:
        raise UsageError("--generate-only without --keep would drop the data.")
    if options.scale <= 0 or options.repeat < 1 or options.warmup < 0:
        raise UsageError("--scale must be > 0, --repeat >= 1, --warmup >= 0.")
    verbose = options.verbosity > 0
    if options.in_place and not is_test_database(str(connection.settings_dict["NAME"])):
        raise UsageError(
            "--in-place is for the test suite's database only; without it the "
            "bench creates and drops a database of its own."
        )

    def say(text: str, *, level: int = 1) -> None:
        if options.verbosity >= level:
            print(text, file=sys.stderr)  # noqa: T201 - progress of a CLI

    with bench_database(keep=options.keep, in_place=options.in_place) as db:
        say(f"Benchmark database: {db}")
        dataset = generate(scale=options.scale, seed=options.seed, progress=verbose)
        say(f"Generated in {dataset.total_seconds:,.1f} s: {dataset.rows}")
        say(rollup_check.verify())
        if options.generate_only:
            return
        references = []
        results = measure(
            dataset,
            warmup=options.warmup,
            repeat=options.repeat,
            budget_seconds=options.budget,
            progress=lambda text: say(text, level=2),
            on_reference=references.append,
            only=options.only,
        )
        unknown = (options.only or frozenset()) - {r.key for r in results}
        if unknown:
            raise UsageError(f"--only: no operation {', '.join(sorted(unknown))}.")
        record = run_record(
            dataset,
            results,
            warmup=options.warmup,
            repeat=options.repeat,
            reference=references[0] if references else None,
        )
    print(summary(dataset, record))  # noqa: T201 - the CLI's output
    print(text_table(results))  # noqa: T201
    if not (options.no_write or options.only):
        write_json(options.json, record)
        write_markdown(options.markdown, markdown_section(dataset, results, record))
        say(f"Wrote {options.json} and {options.markdown}")
