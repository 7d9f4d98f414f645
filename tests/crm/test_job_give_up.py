"""A job out of retries is marked failed with its reason, where admins and
the API show it; a job that finished meanwhile keeps its outcome."""

import pytest

from crm.models import ActionJob, ExportJob
from leads.models import LeadImport

pytestmark = pytest.mark.django_db


def _jobs(user):
    return [
        ExportJob.objects.create(requested_by=user, source="api", kind="leads"),
        ActionJob.objects.create(requested_by=user, model="leads.lead", action="x"),
        LeadImport.objects.create(created_by=user, filename="leads.csv"),
    ]


@pytest.mark.parametrize("status", ["queued", "running"])
def test_a_job_out_of_retries_is_failed_with_its_reason(rep, status):
    for job in _jobs(rep):
        type(job).objects.filter(pk=job.pk).update(status=status)

        type(job).give_up(pk=job.pk, error="boom " * 1000)

        job.refresh_from_db()
        assert (job.status, job.is_finished) == ("failed", True)
        assert job.error.startswith("boom")
        assert len(job.error) == 2000
        assert job.finished_at is not None


def test_a_finished_job_keeps_its_outcome(rep):
    for job in _jobs(rep):
        type(job).objects.filter(pk=job.pk).update(status="done")

        type(job).give_up(pk=job.pk, error="late failure")

        job.refresh_from_db()
        assert (job.status, job.error) == ("done", "")
