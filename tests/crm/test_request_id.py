"""One request id per request: answered, in every JSON log line, carried into jobs."""

import io
import json
import logging
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

from crm import request_id
from leads import import_jobs
from leads.tasks import run_lead_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log():
    """Capture the project's log records as the production handler writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(request_id.RequestIdFilter())
    options = settings.LOGGING["formatters"]["json"]
    handler.setFormatter(
        JsonFormatter(options["fmt"], rename_fields=options["rename_fields"])
    )
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_a_request_without_an_id_gets_a_new_one():
    response = Client().get("/healthz")

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_sane_incoming_id_is_kept_and_a_forged_one_replaced():
    kept = Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a2c9e-0001")
    forged = Client().get("/healthz", HTTP_X_REQUEST_ID='x" level=ERROR')

    assert kept["X-Request-ID"] == "lb-7f3a2c9e-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", forged["X-Request-ID"])


def test_each_request_logs_one_json_line_with_its_id(json_log):
    Client().get("/healthz", HTTP_X_REQUEST_ID="req-0123456789")

    lines = [line for line in json_log() if line["name"] == "crm.requests"]
    assert len(lines) == 1
    assert lines[0]["request_id"] == "req-0123456789"
    assert (lines[0]["path"], lines[0]["status"], lines[0]["level"]) == (
        "/healthz",
        200,
        "INFO",
    )


def test_the_id_travels_in_the_job_headers_and_marks_the_jobs_logs(rep, json_log):
    job = import_jobs.lead_import_start(
        file=SimpleUploadedFile("list.csv", b"email\na@x.example\n"), by=rep
    )
    # given a request that enqueues a job: the publish hook adds its id
    token = request_id.current.set("req-from-the-web-1")
    headers: dict = {}
    request_id.add_to_task_headers(headers=headers)
    request_id.current.reset(token)
    assert headers == {"request_id": "req-from-the-web-1"}

    # when a worker (no request of its own) runs the job with those headers
    run_lead_import.apply(args=[job.pk], headers=headers)

    # then the job's log lines carry the request's id, and the id is reset
    lines = [line for line in json_log() if line["name"] == "leads.import_jobs"]
    assert [line["request_id"] for line in lines] == ["req-from-the-web-1"]
    assert request_id.current.get() == ""


def test_a_job_from_the_scheduler_gets_an_id_of_its_own(rep, json_log):
    job = import_jobs.lead_import_start(
        file=SimpleUploadedFile("list.csv", b"email\na@x.example\n"), by=rep
    )

    run_lead_import.apply(args=[job.pk])

    (line,) = [line for line in json_log() if line["name"] == "leads.import_jobs"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
