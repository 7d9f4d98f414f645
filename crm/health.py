"""Probes for load balancers, orchestrators and Prometheus (docs/deploy.md).

``/healthz`` answers as long as the process serves requests: it reads nothing.
``/readyz`` answers 200 only when this process can do its work: the database
answers, every migration is applied, the shared cache answers and the job
broker is reachable; otherwise 503 naming the check that failed, so a load
balancer stops sending traffic until it recovers. ``/metrics`` is the Prometheus
text format, for the configured addresses only (``METRICS_ALLOWED_IPS``);
anyone else gets the 404 of a page that does not exist.

None of them is an API resource: plain Django views, outside ``/api/v1/``, with
no session, authentication or throttle to slow or fail a probe.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, JsonResponse
from django.views.decorators.cache import never_cache
from django_prometheus.exports import ExportToDjangoView

from crm.celery import app as celery_app
from crm.client_ip import client_ip_or_none

logger = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 2.0


def check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


_migrated = False


def check_migrations() -> str:
    # Loading the migration graph takes tens of milliseconds: once this
    # process has seen its code's migrations applied, that stays true.
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise RuntimeError(f"{len(plan)} migration(s) not applied")
        _migrated = True
    return "ok"


def check_cache() -> str:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("a value written was not read back")
    cache.delete(key)
    return "ok"


def check_broker() -> str:
    if celery_app.conf.task_always_eager:
        return "in-process"  # no broker configured: jobs run where enqueued
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    return "ok"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
}


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    results, ready = {}, True
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # a probe reports any failure, it never raises
            ready = False
            results[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
            logger.warning("readiness check %s failed: %s", name, exc)
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


def _metrics_allowed(request) -> bool:
    address = client_ip_or_none(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


@never_cache
def metrics(request):
    if not _metrics_allowed(request):
        raise Http404
    return ExportToDjangoView(request)
