"""Admin actions over more records than a request should handle run as jobs."""

import pytest
from django.db import OperationalError

from crm.errors import Conflict
from crm.models import ActionJob, ActionStatus
from crm.tasks import run_admin_action
from leads import services
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prospects(rep, other_rep, settings):
    settings.ADMIN_ACTION_SYNC_MAX_ROWS = 2
    mine = [
        LeadFactory(owner=rep, status="prospect", email=f"p{n}@corp.example")
        for n in range(3)
    ]
    LeadFactory(owner=other_rep, status="prospect", email="theirs@corp.example")
    return mine


def _promote_all(client, **extra):
    return client.post(
        "/admin/leads/prospect/",
        {"action": "promote", "select_across": "1", "_selected_action": ["1"]},
        **extra,
    )


def test_select_all_over_the_limit_runs_as_a_job_with_a_link(
    client, rep, prospects, django_capture_on_commit_callbacks
):
    client.force_login(rep)

    with django_capture_on_commit_callbacks(execute=True):
        response = _promote_all(client, follow=True)

    job = ActionJob.objects.get()
    assert f"/admin/crm/actionjob/{job.pk}/change/" in response.content.decode()
    assert (job.status, job.done, job.total) == (ActionStatus.DONE, 3, 3)
    statuses = dict(Lead.objects.values_list("email", "status"))
    assert statuses == {
        "p0@corp.example": "lead",
        "p1@corp.example": "lead",
        "p2@corp.example": "lead",
        "theirs@corp.example": "prospect",  # outside the rep's scope
    }
    page = client.get(f"/admin/crm/actionjob/{job.pk}/change/").content.decode()
    assert "3 prospects promoted to leads." in page


def test_a_selection_within_the_limit_runs_in_the_request(client, rep, prospects):
    client.force_login(rep)

    client.post(
        "/admin/leads/prospect/",
        {"action": "promote", "_selected_action": [p.pk for p in prospects[:2]]},
    )

    assert not ActionJob.objects.exists()
    assert Lead.objects.filter(status="lead").count() == 2


def test_a_retried_job_resumes_after_the_last_record_done(
    client, rep, prospects, monkeypatch
):
    client.force_login(rep)
    _promote_all(client)  # queued: the test's transaction never commits
    job = ActionJob.objects.get()
    promote = services.lead_promote
    calls = []

    def crashing_once(**kwargs):
        calls.append(kwargs["lead"].pk)
        if len(calls) == 2:
            raise OperationalError("worker lost its connection")
        return promote(**kwargs)

    monkeypatch.setattr(services, "lead_promote", crashing_once)

    run_admin_action.apply(args=[job.pk])

    job.refresh_from_db()
    first, second, third = (p.pk for p in prospects)
    # the first attempt did the first record and died on the second; the
    # retry started from the second: no record was promoted twice
    assert calls == [first, second, second, third]
    assert (job.status, job.done, job.attempts) == (ActionStatus.DONE, 3, 2)
    assert Lead.objects.filter(status="lead").count() == 3


def test_refusals_are_in_the_report(client, rep, prospects, monkeypatch):
    client.force_login(rep)
    _promote_all(client)
    job = ActionJob.objects.get()
    promote = services.lead_promote

    def refusing_the_second(**kwargs):
        if kwargs["lead"].pk == prospects[1].pk:
            raise Conflict("Someone is calling them right now.")
        return promote(**kwargs)

    monkeypatch.setattr(services, "lead_promote", refusing_the_second)

    run_admin_action.apply(args=[job.pk])

    job.refresh_from_db()
    assert (job.done, job.total) == (2, 3)
    assert [(line["level"], line["text"]) for line in job.report] == [
        ("error", f"{prospects[1]}: Someone is calling them right now."),
        ("success", "2 prospects promoted to leads."),
    ]


def test_select_all_stays_select_all_through_an_actions_form(client, rep, prospects):
    client.force_login(rep)

    page = client.post(
        "/admin/leads/lead/?status__exact=prospect",
        {"action": "reassign", "select_across": "1", "_selected_action": ["1"]},
    ).content.decode()

    assert '<input type="hidden" name="select_across" value="1">' in page
    assert 'name="_selected_action"' not in page
    assert "3 records:" in page
