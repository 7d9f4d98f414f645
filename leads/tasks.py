"""Background jobs of the leads app: CSV imports and the purge of their files,
and the double opt-in e-mails."""

from __future__ import annotations

import logging
from datetime import timedelta
from smtplib import SMTPException

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from leads import consent, import_jobs
from leads.models import ConsentAction, ConsentRecord, ImportStatus, LeadImport

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


# How long the mail server may stay down before a consent e-mail is given up:
# the retries' backoff (1, 2, 4… minutes, at most 30) spans about four hours,
# and the sweep below queues what is still unsent for a day.
CONSENT_EMAIL_RETRIES = 12
CONSENT_EMAIL_SWEEP_AFTER = timedelta(minutes=15)
CONSENT_EMAIL_SWEEP_UNTIL = timedelta(days=1)


@shared_task(
    # A mail server that is down or slow; anything else is a bug to show.
    autoretry_for=(SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=30 * 60,
    max_retries=CONSENT_EMAIL_RETRIES,
)
def send_consent_email(request_id: int) -> bool:
    """E-mail the confirmation link of consent request ``request_id`` (once).

    Return True when this run sent it; a rerun sends nothing again. A failure
    past the retries is a FAILURE row in the admin's task results.
    """
    return consent.confirmation_send(request_id=request_id)


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_pending_consent_emails() -> int:
    """Queue the consent e-mails not sent yet (a broker that refused the job,
    retries that ran out while the mail server was down); return how many."""
    now = timezone.now()
    pending = ConsentRecord.objects.filter(
        action=ConsentAction.REQUESTED,
        email__isnull=True,
        recorded_at__lt=now - CONSENT_EMAIL_SWEEP_AFTER,
        recorded_at__gte=now - CONSENT_EMAIL_SWEEP_UNTIL,
    ).values_list("pk", flat=True)
    queued = 0
    for request_id in pending.iterator():
        send_consent_email.delay(request_id)
        queued += 1
    logger.info("queued %d pending consent e-mail(s)", queued)
    return queued
