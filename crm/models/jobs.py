"""Work a request hands to a background job: CSV exports (``crm.export_jobs``)
and admin actions over many records (``crm.action_jobs``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from crm.models.core import ScopedQuerySet, User


class Job(models.Model):
    """What every background job records: its failure, tries and times.

    ``status`` is each job's own field (its choices name its states); a job
    whose status is in ``FINISHED`` will not change again.
    """

    FINISHED: tuple[str, ...] = ("done", "failed")

    error = models.TextField(blank=True, verbose_name=_("error"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("started at")
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("finished at")
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @classmethod
    def give_up(cls, *, pk: int, error: str) -> None:
        """Mark job ``pk`` failed for good (it ran out of retries), unless it
        finished meanwhile."""
        cls.objects.filter(pk=pk).exclude(status__in=cls.FINISHED).update(
            status="failed", error=error[:2000], finished_at=timezone.now()
        )


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", pgettext_lazy("export status", "Done")
    FAILED = "failed", _("Failed")
    # Done, and its file deleted by the purge job (EXPORT_FILES_KEEP_DAYS).
    EXPIRED = "expired", _("Expired")


class ExportSource(models.TextChoices):
    # ``API``: ``filters`` are the list endpoint's query parameters and ``kind``
    # the list (``leads``); ``ADMIN``: ``filters`` are the changelist's query
    # string and ``kind`` the model's label (``leads.prospect``).
    API = "api", _("API")
    ADMIN = "admin", _("Admin")


class ExportJob(Job):
    """One CSV export of a list, written to a file by a background job.

    Created by ``POST /api/v1/exports/`` or the admin's export action
    (``crm.export_jobs.export_start``); the job (``crm.tasks.run_export``)
    reads the rows the requester sees, with the filters given, and writes the
    file; ``rows`` grows while it runs. Only the requester (and admins) see it.
    """

    FINISHED = (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED)

    requested_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    source = models.CharField(
        max_length=8,
        choices=ExportSource.choices,
        default=ExportSource.API,
        verbose_name=_("source"),
    )
    kind = models.CharField(max_length=64, verbose_name=_("kind"))
    filters = models.JSONField(default=dict, blank=True, verbose_name=_("filters"))
    status = models.CharField(
        max_length=8,
        choices=ExportStatus.choices,
        default=ExportStatus.QUEUED,
        verbose_name=_("status"),
    )
    # The rows to write, counted when the job starts (the rows may change
    # while it runs: ``rows`` is what the file holds).
    total = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("total rows")
    )
    rows = models.PositiveIntegerField(default=0, verbose_name=_("rows"))
    file = models.FileField(
        upload_to="exports/%Y/%m/", max_length=255, blank=True, verbose_name=_("file")
    )
    size = models.PositiveBigIntegerField(default=0, verbose_name=_("size"))

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # A user's exports, newest first (GET /api/v1/exports/).
            models.Index(fields=["requested_by", "-created_at"], name="exportjob_by"),
            # The purge job: finished exports whose file is still there.
            models.Index(
                fields=["finished_at"],
                condition=Q(status="done"),
                name="exportjob_done_finished",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExportStatus.values),
                name="exportjob_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(source__in=ExportSource.values),
                name="exportjob_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Export #%(pk)s %(kind)s (%(status)s)") % {
            "pk": self.pk,
            "kind": self.kind,
            "status": self.get_status_display(),
        }

    @property
    def filename(self) -> str:
        """Return the name the download is saved under (``leads-2026-11-30.csv``)."""
        stamp = timezone.localdate(self.created_at).isoformat()
        return f"{self.kind.rsplit('.', 1)[-1]}-{self.pk}-{stamp}.csv"


class ActionStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", pgettext_lazy("action status", "Done")
    FAILED = "failed", _("Failed")


class ActionJob(Job):
    """An admin action over more records than a request should handle.

    Created by ``crm.admin_services.run_on_each`` when the selection is larger
    than ``ADMIN_ACTION_SYNC_MAX_ROWS``; the job (``crm.tasks.run_admin_action``)
    runs the same action with the same form, as the requester, record by
    record. ``last_pk`` and ``done`` move in each record's own transaction, so
    a job retried after a crash goes on where it stopped and never applies the
    action twice to a record.
    """

    requested_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    model = models.CharField(max_length=100, verbose_name=_("model"))
    action = models.CharField(max_length=100, verbose_name=_("action"))
    description = models.CharField(
        max_length=255, blank=True, verbose_name=_("description")
    )
    # The changelist's query string, the action's form (POST, lists of values,
    # without the CSRF token) and the requester's scope then (crm.policy).
    query = models.TextField(blank=True, verbose_name=_("query"))
    form = models.JSONField(default=dict, blank=True, verbose_name=_("form"))
    scope = models.JSONField(null=True, blank=True, verbose_name=_("scope"))
    status = models.CharField(
        max_length=8,
        choices=ActionStatus.choices,
        default=ActionStatus.QUEUED,
        verbose_name=_("status"),
    )
    total = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("total records")
    )
    done = models.PositiveIntegerField(default=0, verbose_name=_("records done"))
    last_pk = models.BigIntegerField(default=0, verbose_name=_("last record"))
    # The action's messages, [{"level": "error", "text": "..."}], in order.
    report = models.JSONField(default=list, blank=True, verbose_name=_("report"))

    class Meta:
        verbose_name = _("bulk action")
        verbose_name_plural = _("bulk actions")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # A user's bulk actions, newest first (the admin's list).
            models.Index(fields=["requested_by", "-created_at"], name="actionjob_by"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ActionStatus.values),
                name="actionjob_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Bulk action #%(pk)s: %(description)s (%(status)s)") % {
            "pk": self.pk,
            "description": self.description or self.action,
            "status": self.get_status_display(),
        }
