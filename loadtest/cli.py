"""``python -m loadtest`` (``make loadtest``, ``make loadtest-short``).

1. A database of its own next to DATABASE_URL's (``<name>_loadtest``), with the
   benchmark's synthetic CRM at ``--scale`` (1 = a million leads), reused by
   later runs at the same scale.
2. nginx on ``--port`` in front of ``--servers`` gunicorn app servers (the
   ports after it) and a Celery worker, sharing PostgreSQL and Redis
   (``--redis``: cache, sessions, throttles and broker).
3. locust, headless, ``loadtest/locustfile.py``, ramping up to ``--rate``
   requests/s over ``--ramp`` seconds, for ``--duration`` seconds; with two or
   more servers, one is killed (SIGKILL) at ``--kill-at`` and started again.
4. The integrity check on the database, the CPU split, and the report:
   docs/loadtest.md and docs/loadtest.json (not for ``--short`` unless
   ``--write``). Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    p.add_argument("--scale", type=float, default=1.0, help="1 = a million leads.")
    p.add_argument("--duration", type=float, default=300, help="Seconds of load.")
    p.add_argument("--rate", type=float, default=120, help="Offered requests/s.")
    p.add_argument("--ramp", type=float, default=30, help="Seconds of ramp-up.")
    p.add_argument("--servers", type=int, default=2, help="App servers.")
    p.add_argument(
        "--web-concurrency", type=int, default=2, help="gunicorn workers per server."
    )
    p.add_argument(
        "--kill-at",
        type=float,
        default=0.5,
        help="When to kill an app server, as a fraction of the duration "
        "(0: never; needs two servers).",
    )
    p.add_argument("--port", type=int, default=8200, help="nginx; servers follow.")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/2")
    p.add_argument("--database", help="Default: DATABASE_URL's name + _loadtest.")
    p.add_argument(
        "--replica",
        metavar="URL",
        help="A streaming replica of the database's server (make replica: "
        "postgres://postgres@127.0.0.1:5433): the app servers read their "
        "reports and exports there (DATABASE_REPLICA_URL).",
    )
    p.add_argument("--fresh", action="store_true", help="Drop the database first.")
    p.add_argument("--drop", action="store_true", help="Drop the database after.")
    p.add_argument(
        "--short",
        action="store_true",
        help="CI's version: 30 s at 10 requests/s, one server, scale 0.002, no "
        "kill, a fresh database dropped afterwards, docs left alone.",
    )
    p.add_argument("--write", action="store_true", help="Write the docs (--short).")
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="Create and fill the database, then stop (a later run reuses it).",
    )
    p.add_argument("--json", type=Path, default=DOCS / "loadtest.json")
    p.add_argument("--markdown", type=Path, default=DOCS / "loadtest.md")
    p.add_argument("--note", default="", help="Conditions to record with the run.")
    return p


_T0 = time.monotonic()


def say(text: str) -> None:
    elapsed = time.monotonic() - _T0
    print(f"[loadtest {elapsed:6.1f} s] {text}", file=sys.stderr, flush=True)  # noqa: T201


def database_urls(options) -> tuple[str, str]:
    """Return (the load test's database URL, the server's maintenance URL)."""
    base = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm"
    ).split("?", 1)[0]
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("The load test needs PostgreSQL in DATABASE_URL.")
    name = options.database or f"{parts.path.lstrip('/') or 'crm'}_loadtest"
    if options.short and not options.database:
        name += "_short"
    url = urlunsplit(parts._replace(path=f"/{name}"))
    return url, urlunsplit(parts._replace(path="/postgres"))


def ensure_database(url: str, maintenance_url: str, *, fresh: bool) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str, maintenance_url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def server_env(options, database_url: str, run_dir: Path) -> dict[str, str]:
    """The production settings every process of the stack shares."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        # Persistent connections, as a production deployment keeps them.
        "DATABASE_URL": f"{database_url}?conn_max_age=60&conn_health_checks=true",
        "CACHE_URL": options.redis,
        "CELERY_BROKER_URL": options.redis,
        # One proxy (nginx) in front: the client address is the one it adds.
        "TRUSTED_PROXY_COUNT": "1",
        # Every simulated visitor comes from 127.0.0.1: per-address limits
        # would refuse them all; what is measured is the work, not the limit.
        "THROTTLE_ANON": "1000000/min",
        "THROTTLE_USER": "1000000/min",
        "THROTTLE_CAPTURE": "1000000/min",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        # No mail server here: the capture's confirmation e-mails are dropped.
        "EMAIL_URL": "dummymail://",
        "PROMETHEUS_MULTIPROC_DIR": str(run_dir / "metrics"),
        "STATIC_ROOT": str(run_dir / "static"),
    }
    # A replica of this database only when asked for, never the caller's own.
    env.pop("DATABASE_REPLICA_URL", None)
    if options.replica:
        env["DATABASE_REPLICA_URL"] = urlunsplit(
            urlsplit(options.replica)._replace(path=urlsplit(database_url).path)
        )
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(
        {k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY")}
    )
    os.environ.update(
        {
            k: env[k]
            for k in ("ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL")
        }
    )
    # Generating the data runs COPY statements longer than production's
    # per-statement limit; the app servers keep it.
    os.environ["DATABASE_STATEMENT_TIMEOUT_MS"] = "0"
    import django

    django.setup()


def machine() -> str:
    import psutil

    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GB, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )


def run(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    if options.short:
        options.duration, options.rate, options.ramp = 30.0, 10.0, 5.0
        options.servers, options.kill_at = 1, 0.0
        options.scale = 0.002 if "--scale" not in (argv or sys.argv) else options.scale
        options.fresh = options.drop = True
    kill = options.servers >= 2 and options.kill_at > 0
    url, maintenance = database_urls(options)
    run_dir = Path(tempfile.mkdtemp(prefix="crm-loadtest-"))
    env = server_env(options, url, run_dir)
    say(f"database {urlsplit(url).path.lstrip('/')}, logs in {run_dir}")
    ensure_database(url, maintenance, fresh=options.fresh)
    setup_django(env)

    from loadtest.prepare import dataset_facts, write_fixture
    from loadtest.stack import ROOT as STACK_ROOT
    from loadtest.stack import VENV_BIN, Stack

    facts = dataset_facts(scale=options.scale, say=say)
    say("data ready")
    if options.prepare_only:
        return 0
    fixture_path = run_dir / "fixture.json"
    write_fixture(facts, fixture_path)
    # The pages' static files (the manifest their {% static %} tags read),
    # without the API docs' and browsable API's bundles: compressing those
    # ~35 MB costs minutes of CPU and no simulated user loads them.
    subprocess.run(  # noqa: S603
        [
            str(VENV_BIN / "python"),
            "manage.py",
            "collectstatic",
            "--noinput",
            "-v0",
            "-i",
            "rest_framework",
            "-i",
            "drf_spectacular_sidecar",
        ],
        cwd=STACK_ROOT,
        env=env,
        check=True,
    )
    from django.db import connections

    connections.close_all()

    app_ports = [options.port + 1 + i for i in range(options.servers)]
    stack = Stack(
        env=env,
        run_dir=run_dir,
        app_ports=app_ports,
        lb_port=options.port,
        web_concurrency=options.web_concurrency,
    )
    users = max(1, round(options.rate * 2))  # each user: 0.5 requests/s
    events_path = run_dir / "events.json"
    kill_record: dict = {}
    try:
        stack.start()
        say(f"nginx :{options.port} -> app servers {app_ports}; {users} users")
        from loadtest.cpu import CpuSampler

        locust = subprocess.Popen(  # noqa: S603
            [
                str(VENV_BIN / "locust"),
                "-f",
                "loadtest/locustfile.py",
                "--headless",
                "--users",
                str(users),
                "--spawn-rate",
                f"{users / max(1.0, options.ramp):.2f}",
                "--run-time",
                f"{int(options.duration)}s",
                "--host",
                f"http://127.0.0.1:{options.port}",
                "--only-summary",
                "--stop-timeout",
                "10",
                "--loglevel",
                "WARNING",
            ],
            cwd=STACK_ROOT,
            env={
                **env,
                "LOADTEST_FIXTURE": str(fixture_path),
                "LOADTEST_EVENTS": str(events_path),
                "LOADTEST_USERS": str(users),
            },
            start_new_session=True,
        )

        def roots() -> dict[str, list[int]]:
            return {**stack.groups(), "load generator": [locust.pid]}

        sampler = CpuSampler(roots, database=urlsplit(url).path.lstrip("/"))
        load_started = time.time()
        sampler.start()
        killer = None
        if kill:
            killer = threading.Thread(
                target=_kill_and_restart,
                args=(stack, app_ports[-1], options.duration * options.kill_at),
                kwargs={"record": kill_record, "started": load_started},
                daemon=True,
            )
            killer.start()
        locust.wait()
        cpu = sampler.stop()
        load_ended = time.time()
        if killer is not None:
            killer.join()
    finally:
        stack.stop()
    return _finish(
        options,
        facts=facts,
        events_path=events_path,
        cpu=cpu,
        load=(load_started, load_ended),
        kill_record=kill_record,
        url=url,
        maintenance=maintenance,
        run_dir=run_dir,
    )


def _kill_and_restart(stack, port: int, after: float, *, record: dict, started: float):
    time.sleep(after)
    killed = time.time()
    stack.kill_app(port)
    say(f"killed the app server on :{port}")
    time.sleep(5)
    stack.start_app(port)
    back = time.time()
    say(f"app server on :{port} back after {back - killed:.1f} s")
    # nginx tries a failed server again after fail_timeout (3 s).
    record.update(
        port=port,
        at_seconds=round(killed - started, 1),
        down_seconds=back - killed,
        window=(killed - 1.0, back + 5.0),
        window_seconds=back + 5.0 - (killed - 1.0),
    )


def _finish(
    options, *, facts, events_path, cpu, load, kill_record, url, maintenance, run_dir
):
    from loadtest import integrity, report

    events = json.loads(events_path.read_text())
    window = tuple(kill_record["window"]) if kill_record else None
    steady_from = load[0] + options.ramp
    figures = report.figures(
        events["requests"],
        steady_from=steady_from,
        steady_to=load[1],
        kill_window=window,
    )
    checks = integrity.check_all(events["writes"])
    description = (
        f"{options.servers} app server(s) x {options.web_concurrency} gunicorn "
        f"workers behind nginx, 1 Celery worker, offered {options.rate:g} "
        f"requests/s ({round(options.rate * 2)} users) for {options.duration:g} s "
        f"with a {options.ramp:g} s ramp-up"
        + (", one app server killed and restarted" if kill_record else "")
        + (", reports and exports on a streaming replica" if options.replica else "")
        + "."
        + (f" {options.note}" if options.note else "")
    )
    record = {
        "run": {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "description": description,
            "machine": machine(),
            "scale": options.scale,
            "short": options.short,
        },
        "dataset": facts,
        "figures": figures,
        "kill": {k: v for k, v in kill_record.items() if k != "window"} or None,
        "integrity": checks,
        "cpu": cpu,
    }
    record["verdicts"] = report.verdicts(record, short=options.short)
    text = report.markdown(record)
    print(text)  # noqa: T201 - the CLI's output
    if not options.short or options.write:
        report.write_json(options.json, record)
        report.write_markdown(options.markdown, text)
        say(f"wrote {options.json} and {options.markdown}")
    if options.drop:
        from django.db import connections

        connections.close_all()
        drop_database(url, maintenance)
    if all(record["verdicts"].values()):
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        say(f"logs kept in {run_dir}")
    missed = [t for t, met in record["verdicts"].items() if not met]
    if missed:
        say("missed: " + "; ".join(missed))
        return 1
    return 0
