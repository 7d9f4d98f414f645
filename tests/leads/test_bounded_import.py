"""The CSV import has bounded cost: size limit, streaming, clear row errors."""

import io
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload
from django.http.multipartparser import MultiPartParser
from django.test import Client

from crm.uploads import SizeLimitHandler
from leads.importing import ImportMode, leads_import
from leads.models import Lead

pytestmark = pytest.mark.django_db

IMPORT = "/admin/leads/lead/import/"


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _upload(content: bytes, mode="keep-valid"):
    return {"file": SimpleUploadedFile("list.csv", content, "text/csv"), "mode": mode}


def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    monkeypatch, settings, rep
):
    settings.LEADS_IMPORT_MAX_BYTES = 2**20
    parsed = []
    monkeypatch.setattr(MultiPartParser, "parse", lambda self: parsed.append(1))
    big = b"email\n" + b"someone@x.example\n" * 70_000  # 1.2 MB

    response = _client(rep).post(IMPORT, _upload(big))

    assert response.status_code == 413
    assert "larger than 1 MB" in response.content.decode()
    assert parsed == []
    assert not Lead.objects.exists()


def test_a_body_longer_than_declared_is_cut_off_while_read(rf):
    handler = SizeLimitHandler(rf.post("/"), limit=10)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"

    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"678901", 5)

    assert handler.exceeded


def test_the_import_page_still_checks_csrf(rep):
    response = _client(rep, enforce_csrf_checks=True).post(
        IMPORT, _upload(b"email\na@x.example\n")
    )

    assert response.status_code == 403
    assert not Lead.objects.exists()


def _import_page(client, data, capture) -> str:
    """Upload through the import page; return the import's page once it ran."""
    with capture(execute=True):  # the job is queued when the upload commits
        response = client.post(IMPORT, data)
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


def test_a_nul_byte_or_an_oversized_field_rejects_its_row_not_the_page(
    rep, django_capture_on_commit_callbacks
):
    content = (
        b"email,first_name\n"
        b"a@x.example,Ana\n"
        b"b@x.example,B\x00b\n"
        b"c@x.example," + b"x" * 131_073 + b"\n"
        b"d@x.example,Dee\n"
    )

    page = _import_page(
        _client(rep), _upload(content), django_capture_on_commit_callbacks
    )

    assert "2 created" in page
    assert "contains a NUL character" in page
    assert "field larger than field limit" in page
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "a@x.example",
        "d@x.example",
    ]


def test_a_file_that_is_not_utf8_fails_its_import_with_the_reason(
    rep, django_capture_on_commit_callbacks
):
    page = _import_page(
        _client(rep),
        _upload("email\nzoë@x.example\n".encode("latin-1")),
        django_capture_on_commit_callbacks,
    )

    assert "not UTF-8" in page
    assert "Failed" in page


def test_an_all_or_nothing_import_rejected_late_saves_nothing(rep):
    rows = "".join(f"p{n}@x.example\n" for n in range(30)) + "bad\n"

    report = leads_import(
        file=io.StringIO("email\n" + rows),
        by=rep,
        mode=ImportMode.ALL_OR_NOTHING,
        batch_size=10,  # three batches written before the bad row is read
    )

    assert (report.saved, report.created, report.rejected_count) == (False, 0, 1)
    assert not Lead.objects.exists()


def _write_csv(path, megabytes: int) -> int:
    # Long values (~500 bytes a row) keep the row count, and the test's time,
    # moderate: 30 MB is about 60,000 rows.
    row = (
        f"{'Maria-Fernanda ' * 6},{'de la Cruz Villanueva ' * 4},{{email}},"
        f"+33 1 23 45 67 89,{'Head of Revenue Operations ' * 4},"
        f"{'Example Industries International Holding ' * 4},"
        "outbound,prospect_list,prospect\n"
    )
    rows = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            "first_name,last_name,email,phone,job_title,company_name,"
            "channel,source,status\n"
        )
        while out.tell() < megabytes * 2**20:
            out.write(row.format(email=f"person{rows}@example.com"))
            rows += 1
    return rows


def test_a_30_mb_import_stays_under_50_mb_of_memory(tmp_path, rep):
    path = tmp_path / "big.csv"
    rows = _write_csv(path, 30)

    tracemalloc.start()
    try:
        with open(path, encoding="utf-8", newline="") as stream:
            report = leads_import(file=stream, by=rep, mode=ImportMode.KEEP_VALID)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (report.created, report.rejected_count) == (rows, 0)
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.1f} MB"
