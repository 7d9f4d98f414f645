"""CSV exports as background jobs: request, queue, write the file, download.

``export_start`` checks the request (the kind, and the filters through the
list's own filter set, so a bad one is a 400 on its field) and stores an
``ExportJob`` row, with a snapshot of the requester's scope, then queues the
job once that row is committed. ``export_run`` (the job,
``crm.tasks.run_export``) builds the rows as the list endpoint would for the
requester (``CsvExportMixin.export_queryset``; an admin export: the
changelist's queryset), narrowed to the scope snapshot, so a file never holds
more than its requester saw when they asked nor more than they see now; it
reads them on the replica when there is one, writes the CSV to a temporary
file and stores it. While it runs, the rows written and the rate are published
in the shared cache (its reads run in one transaction, on the replica or the
primary, whose progress writes no other connection could see).

The job is idempotent: a finished export is never run again; one interrupted
mid-way (a worker killed) is written again from the start, its file replaced.
Finished files are deleted by ``purge_export_files`` after
``EXPORT_FILES_KEEP_DAYS``; the row stays, ``expired``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django_filters.widgets import SuffixedMultiWidget
from rest_framework.exceptions import ErrorDetail, ValidationError

from crm import policy
from crm.export import csv_write
from crm.models import ExportJob, ExportSource, ExportStatus, User
from crm.replica import replica_reads

logger = logging.getLogger(__name__)

# The lists an integration exports, by the name of their API path, and the name
# of their ``export/`` route (the URLconf finds the viewset: crm imports none).
KINDS = {
    "activities": "activity-export",
    "companies": "company-export",
    "contacts": "contact-export",
    "deals": "deal-export",
    "leads": "lead-export",
    "subscriptions": "subscription-export",
}
# The codes of a refused filter (the others are reported as "invalid").
FILTER_CODES = frozenset({"invalid", "invalid_choice", "unknown"})
# Progress is published every this many rows.
PROGRESS_EVERY = 5000
PROGRESS_TTL = 24 * 60 * 60


def _progress_key(pk: int) -> str:
    return f"crm:export-progress:{pk}"


# --- the rows of an export -------------------------------------------------------


def _viewset(kind: str):
    return resolve(reverse(KINDS[kind])).func.cls


def filter_names(kind: str) -> set[str]:
    """Return the query parameters the list ``kind`` filters on."""
    view = _viewset(kind)
    names = {"search"} if getattr(view, "search_fields", None) else set()
    # An instance's filters: building a field on the class's ``base_filters``
    # would cache it there, choices computed without a request, for every
    # later request.
    filterset = view.filterset_class(data={}, queryset=view.queryset)
    for name, filter_ in filterset.filters.items():
        widget = filter_.field.widget
        if isinstance(widget, SuffixedMultiWidget):
            names |= {widget.suffixed(name, suffix) for suffix in widget.suffixes}
        else:
            names.add(name)
    return names


def api_queryset(*, kind: str, filters: dict[str, str], user: User) -> QuerySet:
    """Return the rows ``GET /api/v1/<kind>/export/?<filters>`` gives ``user``.

    An unknown filter is refused (a typo must not export the whole list).
    """
    unknown = sorted(set(filters) - filter_names(kind))
    if unknown:
        message = gettext("This list has no such filter.")
        raise ValidationError(
            {
                "filters": [
                    ErrorDetail(f"{name}: {message}", "unknown") for name in unknown
                ]
            }
        )
    try:
        return _viewset(kind).export_queryset(user=user, filters=filters)
    except ValidationError as exc:
        raise ValidationError({"filters": _on_filters(exc.detail)}) from None


def _on_filters(detail: dict) -> list[ErrorDetail]:
    # The list's errors, by parameter, become errors of ``filters`` naming the
    # parameter (see crm.export_api.FiltersField).
    return [
        ErrorDetail(
            f"{name}: {error}",
            error.code if error.code in FILTER_CODES else "invalid",
        )
        for name, errors in detail.items()
        for error in errors
    ]


def admin_queryset(*, label: str, query: str, user: User) -> QuerySet:
    """Return the rows of the admin changelist of ``label`` at ``?query`` for
    ``user`` (what its "select all" export action would take)."""
    model = apps.get_model(label)
    request = HttpRequest()
    request.method = "GET"
    request.GET = QueryDict(query)
    request.user = user
    model_admin = admin.site._registry[model]
    changelist = model_admin.get_changelist_instance(request)
    return changelist.get_queryset(request).order_by("pk")


def _job_queryset(job: ExportJob) -> QuerySet:
    user = job.requested_by
    if job.source == ExportSource.ADMIN:
        rows = admin_queryset(label=job.kind, query=job.filters["query"], user=user)
    else:
        rows = api_queryset(kind=job.kind, filters=job.filters["params"], user=user)
    return policy.within_snapshot(rows, job.filters.get("scope"))


# --- starting and running --------------------------------------------------------


def export_start(
    *, by: User, kind: str, params: dict[str, str] | None = None, admin_query=None
) -> ExportJob:
    """Queue the CSV export of the list ``kind`` for ``by``; return the job.

    ``params`` are the API list's filters (checked now: a bad one raises the
    400 of its field); ``admin_query`` instead makes it the export of the
    admin changelist of the model labelled ``kind`` at that query string.
    """
    from crm.tasks import run_export  # tasks import this module

    if admin_query is None:
        api_queryset(kind=kind, filters=params or {}, user=by)  # validates
        source, filters = ExportSource.API, {"params": params or {}}
    else:
        source, filters = ExportSource.ADMIN, {"query": admin_query}
    filters["scope"] = policy.scope_snapshot(by)
    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=by, source=source, kind=kind, filters=filters
        )
        # Queued once the row is committed: a worker must find it.
        transaction.on_commit(lambda: run_export.delay(job.pk))
    return job


def export_run(*, pk: int) -> ExportJob | None:
    """Write the file of export ``pk`` unless it has finished; return it.

    Filters that no longer hold (an owner now out of scope) fail the export
    with their reason; any other error propagates, for the job to be retried.
    """
    job = _claim(pk)
    if job is None or job.is_finished:
        return job
    try:
        queryset = _job_queryset(job)
    except (ValidationError, DjangoValidationError) as exc:
        return _finish(job, error=_reason(exc))
    started = time.monotonic()

    def publish(rows: int) -> None:
        cache.set(_progress_key(job.pk), _counts(job, rows, started), PROGRESS_TTL)

    with tempfile.TemporaryFile() as temp:
        with replica_reads() as alias, transaction.atomic(using=alias):
            # In a transaction, PostgreSQL's cursor streams the rows; outside
            # one Django declares it WITH HOLD, which copies every row first.
            job.total = queryset.count()
            publish(0)
            rows = csv_write(
                queryset,
                queryset.model.CSV_COLUMNS,
                temp,
                every=PROGRESS_EVERY,
                on_rows=publish,
            )
        temp.seek(0)
        if job.file:
            job.file.delete(save=False)  # an earlier attempt's
        job.file.save(job.filename, File(temp), save=False)
    return _finish(job, rows=rows)


def _reason(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    if detail is None:
        return " ".join(exc.messages)
    return str(detail)


def export_give_up(*, pk: int, error: str) -> None:
    """Mark an export failed for good (its job ran out of retries)."""
    ExportJob.give_up(pk=pk, error=error)
    cache.delete(_progress_key(pk))


def progress(job: ExportJob) -> dict:
    """Return the rows written, the rows to write and the rate (rows/s).

    A running export's figures come from the cache (see the module doc); a
    finished one's from its row.
    """
    if job.status == ExportStatus.RUNNING:
        live = cache.get(_progress_key(job.pk))
        if live:
            return live
        return {"rows": 0, "total": job.total, "rate": 0.0}
    elapsed = (
        (job.finished_at - job.started_at).total_seconds()
        if job.finished_at and job.started_at
        else 0.0
    )
    return {
        "rows": job.rows,
        "total": job.total,
        "rate": round(job.rows / elapsed, 1) if elapsed > 0 else 0.0,
    }


def expires_at(job: ExportJob):
    """Return when the file of a finished export will be deleted (or None)."""
    if job.status != ExportStatus.DONE or job.finished_at is None:
        return None
    return job.finished_at + timedelta(days=settings.EXPORT_FILES_KEEP_DAYS)


def _counts(job: ExportJob, rows: int, started: float) -> dict:
    elapsed = time.monotonic() - started
    return {
        "rows": rows,
        "total": job.total,
        "rate": round(rows / elapsed, 1) if elapsed > 0 else 0.0,
    }


def _claim(pk: int) -> ExportJob | None:
    """Mark the export running (one attempt more) unless it has finished."""
    with transaction.atomic():
        job = (
            ExportJob.objects.select_for_update()
            .select_related("requested_by")
            .filter(pk=pk)
            .first()
        )
        if job is None or job.is_finished:
            return job
        job.status = ExportStatus.RUNNING
        job.attempts += 1
        job.started_at = timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
    return job


def _finish(job: ExportJob, *, rows: int = 0, error: str = "") -> ExportJob:
    job.status = ExportStatus.FAILED if error else ExportStatus.DONE
    job.error = error
    job.rows = rows
    job.size = job.file.size if job.file else 0
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "status",
            "error",
            "rows",
            "total",
            "size",
            "file",
            "finished_at",
        ]
    )
    cache.delete(_progress_key(job.pk))
    logger.info("export %s %s: %s", job.pk, job.status, error or f"{rows} rows")
    return job


# --- the purge -------------------------------------------------------------------


def purge_export_files(*, now=None) -> int:
    """Delete the files of exports done more than ``EXPORT_FILES_KEEP_DAYS`` ago.

    The row stays, ``expired``; a download then answers 410.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.EXPORT_FILES_KEEP_DAYS)
    old = ExportJob.objects.filter(status=ExportStatus.DONE, finished_at__lt=cutoff)
    purged = 0
    for job in old.iterator():
        if job.file:
            job.file.delete(save=False)
        job.status = ExportStatus.EXPIRED
        job.save(update_fields=["file", "status"])
        purged += 1
    return purged
