"""CSV imports as background jobs: upload, queue, run in batches, report.

``lead_import_start`` stores the uploaded file with a ``LeadImport`` row and
queues the job once that row is committed; ``lead_import_run`` (the job,
``leads.tasks.run_lead_import``) imports the file with ``leads_import`` and
writes the report on the row. While it runs, the rows done, rejected and the
rate are published in the shared cache after every batch: the import writes
in one transaction (all-or-nothing must be able to undo it), so no other
connection could see a progress column updated inside it.

The job is idempotent: a finished import is never run again, and an import
interrupted mid-way (a worker killed) left nothing behind, its transaction
having rolled back, so running it again from the start is the retry.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import asdict

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from crm.models import User
from leads.importing import ImportMode, ImportReport, leads_import
from leads.models import ImportStatus, LeadImport

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 60 * 60


def _progress_key(pk: int) -> str:
    return f"leads:import-progress:{pk}"


def lead_import_start(
    *, file: UploadedFile, by: User, mode: ImportMode = ImportMode.ALL_OR_NOTHING
) -> LeadImport:
    """Store an uploaded CSV and queue its import; return the queued import."""
    from leads.tasks import run_lead_import  # tasks import this module

    with transaction.atomic():
        job = LeadImport(
            created_by=by,
            filename=(file.name or "import.csv")[:255],
            size=file.size or 0,
            mode=ImportMode(mode).value,
        )
        job.file.save(file.name or "import.csv", file, save=False)
        job.save()
        # Queued once the row is committed: a worker must find it.
        transaction.on_commit(lambda: run_lead_import.delay(job.pk))
    return job


def lead_import_run(*, pk: int) -> LeadImport | None:
    """Run the import ``pk`` unless it has finished; return it (None if gone).

    A file that cannot be read (not UTF-8, a bad header) fails the import with
    its reason; any other error propagates, for the job to be retried.
    """
    job = _claim(pk)
    if job is None or job.is_finished:
        return job
    started = time.monotonic()

    def publish(report: ImportReport) -> None:
        cache.set(
            _progress_key(job.pk),
            _counts(report, time.monotonic() - started),
            PROGRESS_TTL,
        )

    # The report's reasons are stored: written in the language of who uploaded.
    with translation.override(job.created_by.language):
        try:
            with job.file.open("rb") as raw:
                stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                report = leads_import(
                    file=stream,
                    by=job.created_by,
                    mode=ImportMode(job.mode),
                    on_batch=publish,
                )
        except UnicodeDecodeError:
            return _finish(job, error=gettext("The file is not UTF-8 text."))
        except ValidationError as exc:
            return _finish(job, error=" ".join(exc.messages))
        return _finish(job, report=report)


def lead_import_give_up(*, pk: int, error: str) -> None:
    """Mark an import failed for good (its job ran out of retries)."""
    LeadImport.give_up(pk=pk, error=error)
    cache.delete(_progress_key(pk))


def progress(job: LeadImport) -> dict:
    """Return the rows done, created, merged, rejected and the rate (rows/s).

    A running import's figures come from the cache (see the module doc); a
    finished one's from its row.
    """
    if job.status == ImportStatus.RUNNING:
        live = cache.get(_progress_key(job.pk))
        if live:
            return live
        return {"rows": 0, "created": 0, "merged": 0, "rejected": 0, "rate": 0.0}
    elapsed = (
        (job.finished_at - job.started_at).total_seconds()
        if job.finished_at and job.started_at
        else 0.0
    )
    return {
        "rows": job.rows,
        "created": job.created,
        "merged": job.merged,
        "rejected": job.rejected_count,
        "rate": round(job.rows / elapsed, 1) if elapsed > 0 else 0.0,
    }


def _counts(report: ImportReport, elapsed: float) -> dict:
    return {
        "rows": report.rows,
        "created": report.created,
        "merged": report.merged,
        "rejected": report.rejected_count,
        "rate": round(report.rows / elapsed, 1) if elapsed > 0 else 0.0,
    }


def _claim(pk: int) -> LeadImport | None:
    """Mark the import running (one attempt more) unless it has finished."""
    with transaction.atomic():
        job = (
            LeadImport.objects.select_for_update()
            .select_related("created_by")
            .filter(pk=pk)
            .first()
        )
        if job is None or job.is_finished:
            return job
        job.status = ImportStatus.RUNNING
        job.attempts += 1
        job.started_at = timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
    return job


def _finish(
    job: LeadImport, *, report: ImportReport | None = None, error: str = ""
) -> LeadImport:
    job.status = ImportStatus.FAILED if error else ImportStatus.DONE
    job.error = error
    job.finished_at = timezone.now()
    fields = ["status", "error", "finished_at"]
    if report is not None:
        job.saved = report.saved
        job.rows = report.rows
        job.created = report.created
        job.merged = report.merged
        job.rejected_count = report.rejected_count
        job.rejected = [asdict(row) for row in report.rejected]
        fields += ["saved", "rows", "created", "merged", "rejected_count", "rejected"]
    job.save(update_fields=fields)
    cache.delete(_progress_key(job.pk))
    logger.info(
        "import %s %s: %s",
        job.pk,
        job.status,
        report.summary() if report is not None else error,
    )
    return job
