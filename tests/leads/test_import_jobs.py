"""CSV imports as background jobs: progress while they run, the report after,
retries, idempotency, and failures visible to admins."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.test import Client
from django_celery_results.models import TaskResult

from leads import import_jobs
from leads.models import ImportStatus, Lead, LeadImport
from leads.tasks import run_lead_import

pytestmark = pytest.mark.django_db

CSV = b"email,first_name\na@x.example,Ana\nbad,Bo\nc@x.example,Cy\n"


def _upload(content=CSV, mode="keep-valid"):
    return {"file": SimpleUploadedFile("list.csv", content, "text/csv"), "mode": mode}


def _start(rep, content=CSV, mode="keep-valid") -> LeadImport:
    return import_jobs.lead_import_start(
        file=SimpleUploadedFile("list.csv", content, "text/csv"), by=rep, mode=mode
    )


def test_an_upload_answers_202_and_the_import_reports_when_done(
    api_as, rep, django_capture_on_commit_callbacks
):
    api = api_as(rep)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = api.post("/api/v1/imports/", _upload(), format="multipart")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"  # the job waits for the commit
    assert len(queued) == 1
    assert response["Location"] == (
        f"http://testserver/api/v1/imports/{response.json()['id']}/"
    )
    report = api.get(response["Location"]).json()
    assert report["status"] == "done"
    assert report["saved"] is True
    assert {k: report["progress"][k] for k in ("rows", "created", "rejected")} == {
        "rows": 3,
        "created": 2,
        "rejected": 1,
    }
    assert report["rejected_rows"] == [
        {"line": 3, "reason": "email: 'bad' is not an e-mail"}
    ]
    assert Lead.objects.filter(owner=rep).count() == 2


def test_progress_is_visible_to_other_requests_while_the_import_runs(
    api_as, rep, monkeypatch
):
    job = _start(rep, b"email\n" + b"".join(b"p%d@x.example\n" % n for n in range(5)))
    seen = []
    real_import = import_jobs.leads_import

    def in_batches_of_two(**kwargs):
        publish = kwargs.pop("on_batch")

        def after_each_batch(report):
            publish(report)
            # another request, as the rep's browser polling the import
            seen.append(api_as(rep).get(f"/api/v1/imports/{job.pk}/").json())

        return real_import(**kwargs, batch_size=2, on_batch=after_each_batch)

    monkeypatch.setattr(import_jobs, "leads_import", in_batches_of_two)

    import_jobs.lead_import_run(pk=job.pk)

    assert [(s["status"], s["progress"]["rows"]) for s in seen] == [
        ("running", 2),
        ("running", 4),
        ("running", 5),
    ]
    assert all(s["progress"]["rate"] >= 0 for s in seen)
    final = api_as(rep).get(f"/api/v1/imports/{job.pk}/").json()
    assert (final["status"], final["progress"]["created"]) == ("done", 5)


def test_a_rep_sees_only_their_own_imports(api_as, rep, other_rep, manager):
    job = _start(rep)

    assert api_as(other_rep).get(f"/api/v1/imports/{job.pk}/").status_code == 404
    assert api_as(other_rep).get("/api/v1/imports/").json()["results"] == []
    assert [i["id"] for i in api_as(rep).get("/api/v1/imports/").json()["results"]] == [
        job.pk
    ]
    assert api_as(manager).get(f"/api/v1/imports/{job.pk}/").status_code == 200


def test_an_upload_over_the_limit_is_refused_with_413(api_as, rep, settings):
    settings.LEADS_IMPORT_MAX_BYTES = 100
    response = api_as(rep).post(
        "/api/v1/imports/", _upload(CSV * 10), format="multipart"
    )

    assert response.status_code == 413
    assert not LeadImport.objects.exists()


def test_an_upload_without_a_file_names_the_field(api_as, rep):
    response = api_as(rep).post(
        "/api/v1/imports/", {"mode": "keep-valid"}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "file"


def test_running_a_finished_import_again_does_nothing(rep):
    job = _start(rep)
    import_jobs.lead_import_run(pk=job.pk)
    Lead.objects.filter(email="a@x.example").delete()

    run_lead_import.apply(args=[job.pk])  # a redelivered message

    job.refresh_from_db()
    assert (job.status, job.attempts, job.created) == (ImportStatus.DONE, 1, 2)
    assert not Lead.objects.filter(email="a@x.example").exists()


def test_a_transient_failure_is_retried_and_the_import_completes(rep, monkeypatch):
    job = _start(rep)
    real_import = import_jobs.leads_import
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_import(**kwargs)

    monkeypatch.setattr(import_jobs, "leads_import", flaky)

    run_lead_import.apply(args=[job.pk])

    job.refresh_from_db()
    assert (job.status, job.attempts, job.created) == (ImportStatus.DONE, 2, 2)
    assert Lead.objects.count() == 2  # the failed attempt left nothing behind


def test_an_import_that_fails_for_good_is_visible_to_admins(
    rep, admin_user, monkeypatch
):
    job = _start(rep)

    def broken(**kwargs):
        raise OperationalError("database is gone")

    monkeypatch.setattr(import_jobs, "leads_import", broken)

    result = run_lead_import.apply(args=[job.pk])

    job.refresh_from_db()
    assert result.state == "FAILURE"
    assert job.status == ImportStatus.FAILED
    assert job.attempts == 4  # the first run and three retries
    assert "OperationalError: database is gone" in job.error
    failed = TaskResult.objects.get(task_id=result.id)
    assert (failed.status, failed.task_name) == (
        "FAILURE",
        "leads.tasks.run_lead_import",
    )
    admin = Client()
    admin.force_login(admin_user)
    page = admin.get("/admin/django_celery_results/taskresult/?status__exact=FAILURE")
    assert result.id in page.content.decode()
    import_page = admin.get(f"/admin/leads/leadimport/{job.pk}/change/")
    assert "database is gone" in import_page.content.decode()


def test_the_admin_page_shows_progress_then_the_report(rep, other_rep):
    job = _start(rep)
    client = Client()
    client.force_login(rep)
    url = f"/admin/leads/leadimport/{job.pk}/change/"

    queued = client.get(url).content.decode()
    import_jobs.lead_import_run(pk=job.pk)
    done = client.get(url).content.decode()

    assert 'http-equiv="refresh"' in queued  # reloads itself until it ends
    assert 'http-equiv="refresh"' not in done
    assert "3 rows read, 2 created, 0 merged, 1 rejected" in done
    assert "is not an e-mail" in done
    other = Client()
    other.force_login(other_rep)
    assert other.get(url).status_code == 302  # a missing object: back to the index
