"""Admin actions over many records, run as background jobs.

An admin action calls a service once per record (``run_on_each``): 10
to 20 ms each on PostgreSQL, so "select all" over thousands of leads would
hold a request for minutes, past the server's timeout, and stop half-way.
Above ``ADMIN_ACTION_SYNC_MAX_ROWS`` records, ``run_on_each`` calls
``action_start`` instead: it stores the action, its form (the POST) and the
changelist's query with the requester's scope (``crm.policy.scope_snapshot``)
as an ``ActionJob``, and queues ``crm.tasks.run_admin_action``.

The job (``action_run``) rebuilds the request as the requester, asks the
changelist for its rows and runs the admin's own ``response_action``: the same
action, form validation and services as in the page. ``run_on_each`` sees the
job on the request and applies the action record by record in primary key
order, moving the job's ``last_pk`` and ``done`` in each record's transaction,
so a retried job resumes after the last record done and never applies the
action twice to one. The action's messages (refusals, the success count) are
the job's report, shown on its admin page.
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages.storage.base import Message
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest, QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext

from crm import policy
from crm.models import ActionJob, ActionStatus

logger = logging.getLogger(__name__)

# The request attribute telling ``run_on_each`` that it runs inside the job.
JOB_ATTR = "crm_action_job"
# Form fields never stored: the CSRF token is the page's, not the action's.
SKIPPED_FIELDS = frozenset({"csrfmiddlewaretoken"})
# Refusals kept in a job's report.
MAX_REPORTED = 1000


def too_many(request: HttpRequest, queryset: QuerySet) -> bool:
    """Return whether an action's selection is too large for one request.

    A selection of checked rows is counted from the form; "select all" is a
    bounded count of the changelist's rows.
    """
    limit = settings.ADMIN_ACTION_SYNC_MAX_ROWS
    if request.POST.get("select_across") == "1":
        return queryset[: limit + 1].count() > limit
    return len(request.POST.getlist(ACTION_CHECKBOX_NAME)) > limit


def action_start(*, request: HttpRequest, modeladmin, description: str) -> ActionJob:
    """Queue the action posted in ``request`` as a job; return it."""
    from crm.tasks import run_admin_action  # tasks import this module

    form = {
        name: request.POST.getlist(name)
        for name in request.POST
        if name not in SKIPPED_FIELDS
    }
    with transaction.atomic():
        job = ActionJob.objects.create(
            requested_by=request.user,
            model=modeladmin.model._meta.label_lower,
            action=request.POST.get("action", ""),
            description=str(description)[:255],
            query=request.GET.urlencode(),
            form=form,
            scope=policy.scope_snapshot(request.user),
        )
        # Queued once the row is committed: a worker must find it.
        transaction.on_commit(lambda: run_admin_action.delay(job.pk))
    return job


class _Collected:
    """A message storage keeping the action's messages for the job's report."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def add(self, level, message, extra_tags="") -> None:
        self.messages.append(Message(level, message, extra_tags=extra_tags))


def action_run(*, pk: int) -> ActionJob | None:
    """Run the action of job ``pk`` on its remaining records; return the job."""
    job = _claim(pk)
    if job is None or job.is_finished:
        return job
    model_admin = admin.site._registry[apps.get_model(job.model)]
    request = HttpRequest()
    request.method = "POST"
    request.GET = QueryDict(job.query)
    request.POST = QueryDict(mutable=True)
    for name, values in job.form.items():
        request.POST.setlist(name, values)
    request.user = job.requested_by
    request._messages = _Collected()
    setattr(request, JOB_ATTR, job)
    # The report is read by the requester: in their language.
    with translation.override(job.requested_by.language or None):
        changelist = model_admin.get_changelist_instance(request)
        rows = policy.within_snapshot(changelist.get_queryset(request), job.scope)
        response = model_admin.response_action(request, queryset=rows)
        collected = [
            {"level": message.level_tag, "text": str(message.message)}
            for message in request._messages.messages
        ]
        if response is not None and not collected:
            # The action showed its form again: its choices no longer hold
            # (an owner now out of the requester's scope).
            return _finish(
                job,
                error=gettext(
                    "The action's choices are no longer valid: run it again "
                    "from the list."
                ),
            )
    return _finish(job, report=collected)


def advance(job: ActionJob, obj, *, done: bool, refusal: str = "") -> None:
    """Move the job's cursor past ``obj`` (inside the record's transaction when
    it was done), noting a refusal in the report (the first 1,000)."""
    changes = {"last_pk": obj.pk}
    if done:
        changes["done"] = F("done") + 1
    if refusal and len(job.report) < MAX_REPORTED:
        job.report.append({"level": "error", "text": refusal})
        changes["report"] = job.report
    ActionJob.objects.filter(pk=job.pk).update(**changes)


def remaining(job: ActionJob, queryset: QuerySet) -> QuerySet:
    """Return the records the job has not reached yet, in its order; count them
    the first time."""
    rows = queryset.filter(pk__gt=job.last_pk).order_by("pk")
    if job.total is None:
        job.total = rows.count()
        ActionJob.objects.filter(pk=job.pk).update(total=job.total)
    return rows


def action_give_up(*, pk: int, error: str) -> None:
    """Mark a bulk action failed for good (its job ran out of retries)."""
    ActionJob.give_up(pk=pk, error=error)


def _claim(pk: int) -> ActionJob | None:
    with transaction.atomic():
        job = (
            ActionJob.objects.select_for_update()
            .select_related("requested_by")
            .filter(pk=pk)
            .first()
        )
        if job is None or job.is_finished:
            return job
        job.status = ActionStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
    return job


def _finish(
    job: ActionJob, *, report: list[dict] | None = None, error: str = ""
) -> ActionJob:
    job.refresh_from_db(fields=["done", "last_pk", "total", "report"])
    job.status = ActionStatus.FAILED if error else ActionStatus.DONE
    job.error = error
    job.report = [*job.report, *(report or [])]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "report", "finished_at"])
    logger.info("bulk action %s %s: %d record(s) done", job.pk, job.status, job.done)
    return job
