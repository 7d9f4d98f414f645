"""Background jobs of the core app: webhook delivery, CSV exports, admin
actions over many records and the periodic purges.

Beat schedules them (``CELERY_BEAT_SCHEDULE`` in the settings). Each is safe to
run twice or concurrently: deliveries are claimed row by row
(``crm.webhooks.claim_due``), and a purge deletes what is expired whoever else
deletes it too.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.utils import timezone
from knox.models import AuthToken

from crm import action_jobs, export_jobs, idempotency, webhooks

logger = logging.getLogger(__name__)

# The most a delivery job sends before it ends: the next beat tick goes on, so
# one job never holds a worker while receivers are slow.
DELIVERY_JOB_LIMIT = 500


@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    # Every few seconds from beat: no result row per run, but one per failure.
    ignore_result=True,
    store_errors_even_if_ignored=True,
)
def deliver_webhooks(batch: int = 20) -> int:
    """Fan out new events and send the due deliveries; return the attempts."""
    total = 0
    while total < DELIVERY_JOB_LIMIT:
        sent = webhooks.deliver_due(batch=batch)
        total += sent
        if sent < batch:
            break
    if total:
        logger.info("webhook delivery: %d attempt(s)", total)
    return total


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_idempotency_keys() -> int:
    """Delete stored Idempotency-Key results older than 24 hours."""
    deleted = idempotency.purge_expired()
    logger.info("purged %d expired idempotency key(s)", deleted)
    return deleted


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_expired_tokens() -> int:
    """Delete API tokens past their expiry (knox refuses them already)."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    logger.info("purged %d expired API token(s)", deleted)
    return deleted


class ExportTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Out of retries: the export says so in the API and its admin page,
        # and the job's traceback is in the admin's task results.
        pk = kwargs.get("pk", args[0] if args else None)
        if pk is not None:
            export_jobs.export_give_up(
                pk=pk, error=f"The export failed: {type(exc).__name__}: {exc}"
            )


@shared_task(
    base=ExportTask,
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=3,
)
def run_export(pk: int) -> dict:
    """Write the CSV file of ``ExportJob`` ``pk`` (idempotent)."""
    job = export_jobs.export_run(pk=pk)
    if job is None:
        return {"export": pk, "status": "missing"}
    return {"export": pk, "status": job.status, "rows": job.rows}


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_export_files() -> int:
    """Delete the files of exports done more than ``EXPORT_FILES_KEEP_DAYS`` ago."""
    purged = export_jobs.purge_export_files()
    logger.info("purged the files of %d finished export(s)", purged)
    return purged


class AdminActionTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Out of retries: the bulk action's page says so (what it did stays
        # done, each record in its own transaction).
        pk = kwargs.get("pk", args[0] if args else None)
        if pk is not None:
            action_jobs.action_give_up(
                pk=pk, error=f"The action failed: {type(exc).__name__}: {exc}"
            )


@shared_task(
    base=AdminActionTask,
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=3,
)
def run_admin_action(pk: int) -> dict:
    """Run the bulk admin action ``ActionJob`` ``pk`` (resumes where it stopped)."""
    job = action_jobs.action_run(pk=pk)
    if job is None:
        return {"action": pk, "status": "missing"}
    return {"action": pk, "status": job.status, "done": job.done}
