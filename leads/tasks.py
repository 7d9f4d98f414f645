"""Background jobs of the leads app: CSV imports and the purge of their files."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from leads import import_jobs
from leads.models import ImportStatus, LeadImport

logger = logging.getLogger(__name__)


class ImportTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Out of retries: the import says so on its page and in the API, and
        # the job's traceback is in the admin's task results.
        pk = kwargs.get("pk", args[0] if args else None)
        if pk is not None:
            import_jobs.lead_import_give_up(
                pk=pk, error=f"The import failed: {type(exc).__name__}: {exc}"
            )


@shared_task(
    base=ImportTask,
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=3,
)
def run_lead_import(pk: int) -> dict:
    """Import the uploaded file of ``LeadImport`` ``pk`` (idempotent)."""
    job = import_jobs.lead_import_run(pk=pk)
    if job is None:
        return {"import": pk, "status": "missing"}
    return {"import": pk, "status": job.status, "rows": job.rows}


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_import_files() -> int:
    """Delete the files of imports finished more than ``IMPORT_FILES_KEEP_DAYS``.

    The row and its report stay; only the uploaded file (personal data that
    has been imported) goes.
    """
    cutoff = timezone.now() - timedelta(days=settings.IMPORT_FILES_KEEP_DAYS)
    old = LeadImport.objects.filter(
        status__in=[ImportStatus.DONE, ImportStatus.FAILED], finished_at__lt=cutoff
    ).exclude(file="")
    purged = 0
    for job in old.iterator():
        job.file.delete(save=False)
        job.save(update_fields=["file"])
        purged += 1
    logger.info("purged the files of %d finished import(s)", purged)
    return purged
