"""CSV exports as background jobs: ask, follow the progress, download, expire."""

import csv
import datetime
import io
import os

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client
from django_celery_results.models import TaskResult

from crm import export_jobs
from crm.models import ExportJob, ExportStatus
from crm.tasks import purge_export_files, run_export
from tests.factories import CompanyFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _ask(api, kind="leads", **filters):
    return api.post(
        "/api/v1/exports/", {"kind": kind, "filters": filters}, format="json"
    )


def test_an_export_answers_202_then_offers_the_filtered_visible_rows(
    api_as, rep, other_rep, django_capture_on_commit_callbacks
):
    mine = LeadFactory(owner=rep, status="lead", email="a@corp.example")
    LeadFactory(owner=rep, status="prospect", email="b@corp.example")
    LeadFactory(owner=other_rep, status="lead", email="c@corp.example")
    api = api_as(rep)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = _ask(api, status="lead")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"  # the job waits for the commit
    assert len(queued) == 1
    location = response["Location"]
    assert location == f"http://testserver/api/v1/exports/{response.json()['id']}/"
    job = api.get(location).json()
    assert job["status"] == "done"
    assert job["filters"] == {"status": "lead"}
    assert (job["progress"]["rows"], job["progress"]["total"]) == (1, 1)
    assert job["download_url"] == f"{location}download/"
    rows = _csv(api.get(job["download_url"]))
    assert [row["id"] for row in rows] == [str(mine.pk)]


def test_another_users_export_looks_missing(api_as, rep, other_rep, manager):
    job = export_jobs.export_start(by=rep, kind="leads")
    run_export.apply(args=[job.pk])

    for user in (other_rep, manager):
        api = api_as(user)
        for suffix in ("", "download/"):
            theirs = api.get(f"/api/v1/exports/{job.pk}/{suffix}")
            missing = api.get(f"/api/v1/exports/999999/{suffix}")
            assert theirs.status_code == missing.status_code == 404
            assert theirs.json() == missing.json()
        assert api.get("/api/v1/exports/").json()["results"] == []


def test_the_file_holds_the_scope_of_the_request_not_a_wider_later_one(
    manager, team, rep
):
    # given a manager's export, asked before a rep joined the team
    LeadFactory(owner=rep, email="known@corp.example")
    job = export_jobs.export_start(by=manager, kind="leads")
    newcomer = UserFactory(username="newcomer", team=team)
    LeadFactory(owner=newcomer, email="new@corp.example")

    # when the job runs
    run_export.apply(args=[job.pk])

    # then the newcomer's leads, which the manager did not see then, are not in it
    job.refresh_from_db()
    with job.file.open("rb") as file:
        text = file.read().decode("utf-8")
    assert "known@corp.example" in text
    assert "new@corp.example" not in text
    assert job.rows == 1


@pytest.mark.parametrize(
    ("filters", "code", "detail"),
    [
        ({"status": "sleeping"}, "invalid_choice", "status: Select a valid choice."),
        ({"colour": "red"}, "unknown", "colour: This list has no such filter."),
        ({"owner": "999999"}, "invalid_choice", "owner: Select a valid choice."),
        ({"score_min": "many"}, "invalid", "score_min: Enter a number."),
        ({"status": ["lead"]}, "invalid", "status: Not a valid value."),
    ],
)
def test_a_bad_filter_is_refused_naming_it(api_as, rep, filters, code, detail):
    response = _ask(api_as(rep), **filters)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["attr"], error["code"]) == ("filters", code)
    assert error["detail"].startswith(detail)
    assert not ExportJob.objects.exists()


def test_an_unknown_kind_is_refused(api_as, rep):
    response = _ask(api_as(rep), kind="passwords")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "kind"


def test_range_filters_and_search_are_the_lists_own(api_as, rep):
    LeadFactory(owner=rep, last_name="Lovelace", email="ada@corp.example")
    LeadFactory(owner=rep, last_name="Hopper", email="grace@corp.example")
    job = export_jobs.export_start(
        by=rep,
        kind="leads",
        params={"search": "lovelace", "created_after": "2000-01-01"},
    )

    run_export.apply(args=[job.pk])

    rows = _csv(api_as(rep).get(f"/api/v1/exports/{job.pk}/download/"))
    assert [row["email"] for row in rows] == ["ada@corp.example"]


def test_the_file_is_formula_safe_in_machine_formats(api_as, rep):
    CompanyFactory(owner=rep, name='=HYPERLINK("http://evil.example")', employees=12)
    job = export_jobs.export_start(by=rep, kind="companies")

    run_export.apply(args=[job.pk])

    api = api_as(rep)
    api.credentials(HTTP_ACCEPT_LANGUAGE="fr")
    (row,) = _csv(api.get(f"/api/v1/exports/{job.pk}/download/"))
    assert row["name"] == '\'=HYPERLINK("http://evil.example")'
    assert row["employees"] == "12"
    assert row["created_at"][4] == "-"  # ISO 8601, whatever the language


def test_a_download_before_the_file_is_written_is_a_409(api_as, rep):
    job = export_jobs.export_start(by=rep, kind="leads")  # queued, not run

    response = api_as(rep).get(f"/api/v1/exports/{job.pk}/download/")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "export_not_ready"


def test_the_purge_deletes_old_files_and_the_download_is_then_gone(
    api_as, rep, settings
):
    settings.EXPORT_FILES_KEEP_DAYS = 2
    with time_machine.travel(NOON, tick=False):
        job = export_jobs.export_start(by=rep, kind="leads")
        run_export.apply(args=[job.pk])
    job.refresh_from_db()
    path = job.file.path

    with time_machine.travel(NOON + datetime.timedelta(days=1), tick=False):
        assert purge_export_files.apply().get() == 0
    with time_machine.travel(NOON + datetime.timedelta(days=2, hours=1), tick=False):
        assert purge_export_files.apply().get() == 1

    job.refresh_from_db()
    assert (job.status, job.file.name) == (ExportStatus.EXPIRED, "")
    assert not os.path.exists(path)
    response = api_as(rep).get(f"/api/v1/exports/{job.pk}/download/")
    assert response.status_code == 410


def test_running_a_finished_export_again_does_nothing(rep):
    job = export_jobs.export_start(by=rep, kind="leads")
    run_export.apply(args=[job.pk])
    job.refresh_from_db()
    name = job.file.name

    run_export.apply(args=[job.pk])

    job.refresh_from_db()
    assert (job.attempts, job.file.name) == (1, name)


def test_an_export_that_fails_for_good_is_visible_to_admins(
    rep, admin_user, monkeypatch
):
    job = export_jobs.export_start(by=rep, kind="leads")

    def broken(*args, **kwargs):
        raise OperationalError("replica is gone")

    monkeypatch.setattr(export_jobs, "csv_write", broken)

    result = run_export.apply(args=[job.pk])

    job.refresh_from_db()
    assert result.state == "FAILURE"
    assert (job.status, job.attempts) == (ExportStatus.FAILED, 4)
    assert "OperationalError: replica is gone" in job.error
    failed = TaskResult.objects.get(task_id=result.id)
    assert (failed.status, failed.task_name) == ("FAILURE", "crm.tasks.run_export")
    admin = Client()
    admin.force_login(admin_user)
    page = admin.get(f"/admin/crm/exportjob/{job.pk}/change/")
    assert "replica is gone" in page.content.decode()


def test_filters_that_no_longer_hold_fail_the_export_with_their_reason(
    rep, other_rep, manager
):
    job = export_jobs.export_start(
        by=manager, kind="leads", params={"owner": str(other_rep.pk)}
    )
    other_rep.team = None  # moved out of the manager's team meanwhile
    other_rep.save()

    run_export.apply(args=[job.pk])

    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    assert "owner" in job.error


def test_progress_is_published_while_the_file_is_written(rep, monkeypatch):
    LeadFactory.create_batch(5, owner=rep)
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 2)
    job = export_jobs.export_start(by=rep, kind="leads")
    seen = []
    publish = export_jobs.csv_write

    def watching(queryset, columns, file, *, every, on_rows):
        def on(rows):
            seen.append(export_jobs.progress(ExportJob.objects.get(pk=job.pk))["rows"])
            on_rows(rows)
            seen.append(export_jobs.progress(ExportJob.objects.get(pk=job.pk))["rows"])

        return publish(queryset, columns, file, every=every, on_rows=on)

    monkeypatch.setattr(export_jobs, "csv_write", watching)

    run_export.apply(args=[job.pk])

    assert seen == [0, 2, 2, 4]
    job.refresh_from_db()
    assert (job.rows, job.total, job.status) == (5, 5, ExportStatus.DONE)


def test_a_list_export_over_the_cap_is_refused_with_a_pointer_to_the_jobs(
    api_as, rep, settings
):
    settings.EXPORT_SYNC_MAX_ROWS = 2
    LeadFactory.create_batch(2, owner=rep)
    api = api_as(rep)
    assert len(_csv(api.get("/api/v1/leads/export/"))) == 2

    LeadFactory(owner=rep)
    response = api.get("/api/v1/leads/export/")

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["code"] == "export_too_large"
    assert "POST /api/v1/exports/" in error["detail"]


def test_admin_select_all_over_the_cap_becomes_a_job_with_a_link(
    client, rep, other_rep, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_SYNC_MAX_ROWS = 2
    acme = [CompanyFactory(owner=rep, name=f"Acme {n}") for n in range(3)]
    CompanyFactory(owner=rep, name="Initech")
    client.force_login(rep)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/crm/company/?q=Acme",
            {
                "action": "export_csv",
                "select_across": "1",
                "_selected_action": [acme[0].pk],
            },
            follow=True,
        )

    job = ExportJob.objects.get()
    assert (job.source, job.kind, job.status) == ("admin", "crm.company", "done")
    page = response.content.decode()
    assert f"/admin/crm/exportjob/{job.pk}/change/" in page
    job_page = client.get(f"/admin/crm/exportjob/{job.pk}/change/").content.decode()
    assert f"/api/v1/exports/{job.pk}/download/" in job_page
    rows = _csv(client.get(f"/api/v1/exports/{job.pk}/download/"))
    assert sorted(row["name"] for row in rows) == ["Acme 0", "Acme 1", "Acme 2"]


def test_admin_selection_on_a_page_still_streams(client, rep, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 2
    companies = CompanyFactory.create_batch(3, owner=rep)
    client.force_login(rep)

    response = client.post(
        "/admin/crm/company/",
        {"action": "export_csv", "_selected_action": [c.pk for c in companies]},
    )

    assert len(_csv(response)) == 3
    assert not ExportJob.objects.exists()
