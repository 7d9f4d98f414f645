import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from leads.importing import ImportMode, RejectedRow, leads_import
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

HEADER = "first_name,last_name,email,phone,company_name,channel,source,status,owner\n"


def run(text, *, by, mode=ImportMode.KEEP_VALID, **kwargs):
    return leads_import(file=io.StringIO(text), by=by, mode=mode, **kwargs)


def test_import_creates_prospects_with_defaults(rep):
    report = run("first_name,email\nAna,ana@x.example\nBo,bo@x.example\n", by=rep)
    assert (report.created, report.merged, report.rejected, report.saved) == (
        2,
        0,
        [],
        True,
    )
    lead = Lead.objects.get(email="ana@x.example")
    assert (lead.status, lead.channel, lead.source, lead.owner) == (
        "prospect",
        "outbound",
        "prospect_list",
        rep,
    )
    assert lead.became_lead_at is None


def test_imported_e_mails_take_the_crms_normal_form(rep):
    # As the API and the admin store them (crm.reference.normalize_email).
    run("first_name,email\nAna,Ana.Lima@X.Example\n", by=rep)

    assert Lead.objects.get().email == "Ana.Lima@x.example"


def test_rejected_rows_are_reported_with_line_and_reason(rep, other_rep):
    text = (
        HEADER
        + "Ana,Lima,ana@x.example,,,,,,\n"  # line 2: fine
        + "Bad,Mail,not-an-email,,,,,,\n"  # line 3
        + "Cha,Nel,c@x.example,,,sideways,,,\n"  # line 4
        + "Sta,Tus,s@x.example,,,,,won,\n"  # line 5
        + f"Own,Er,o@x.example,,,,,,{other_rep.username}\n"  # line 6: out of scope
        + ",,,555,,,,,\n"  # line 7: no e-mail nor name
    )
    report = run(text, by=rep)
    assert report.created == 1
    assert [r.line for r in report.rejected] == [3, 4, 5, 6, 7]
    assert report.rejected[0] == RejectedRow(
        3, "email: 'not-an-email' is not an e-mail"
    )
    assert report.rejected[1].reason.startswith("channel:")
    assert report.rejected[2].reason.startswith("status:")
    assert report.rejected[3].reason.startswith("owner:")


def test_all_or_nothing_saves_nothing_when_a_row_is_bad(rep):
    text = "email\ngood@x.example\nbad-email\n"
    report = run(text, by=rep, mode=ImportMode.ALL_OR_NOTHING)
    assert report.saved is False
    assert report.created == 0
    assert report.rejected == [RejectedRow(3, "email: 'bad-email' is not an e-mail")]
    assert not Lead.objects.exists()


def test_all_or_nothing_saves_everything_when_all_rows_are_good(rep):
    report = run("email\na@x.example\nb@x.example\n", by=rep, mode="all-or-nothing")
    assert report.saved is True
    assert Lead.objects.count() == 2


def test_duplicates_within_the_file_are_merged_in_any_case(rep):
    text = (
        "first_name,email,phone,status\n"
        "Ana,ana@x.example,,prospect\n"
        "Other,ANA@X.example,555,lead\n"
    )
    report = run(text, by=rep)
    assert (report.created, report.merged) == (1, 1)
    lead = Lead.objects.get()
    assert (lead.first_name, lead.phone, lead.status) == ("Ana", "555", "lead")
    assert lead.became_lead_at is not None


def test_duplicates_of_existing_leads_are_merged_not_inserted(rep):
    existing = LeadFactory(
        owner=rep, email="Ana@X.example", phone="", first_name="Ana", status="lead"
    )
    report = run(
        "first_name,email,phone,status\nZed,ana@x.EXAMPLE,555,prospect\n", by=rep
    )
    assert (report.created, report.merged) == (0, 1)
    existing.refresh_from_db()
    assert (existing.first_name, existing.phone) == ("Ana", "555")
    assert existing.status == "lead"  # never downgraded
    assert existing.version == 2  # a rep's open form on it is now stale
    assert Lead.objects.count() == 1


def test_a_rep_cannot_merge_into_another_reps_lead(rep, other_rep):
    LeadFactory(owner=other_rep, email="theirs@x.example", phone="")
    report = run("email,phone\ntheirs@x.example,555\n", by=rep)
    assert report.rejected == [
        RejectedRow(2, "email: belongs to a lead outside your scope")
    ]
    assert Lead.objects.get().phone == ""


def test_owner_column_assigns_within_scope(manager, rep):
    report = run(f"email,owner\na@x.example,{rep.username.upper()}\n", by=manager)
    assert report.created == 1
    assert Lead.objects.get().owner == rep


def test_duplicates_across_batches_are_merged(rep):
    text = "email,phone\n" + "a@x.example,\nb@x.example,\nA@x.example,9\n"
    report = run(text, by=rep, batch_size=1)
    assert (report.created, report.merged) == (2, 1)
    assert Lead.objects.get(email="a@x.example").phone == "9"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("email,colour\n", "Unknown column(s): colour"),
        ("phone,company_name\n", "needs an email or a name"),
        ("email,EMAIL\n", "named twice"),
    ],
)
def test_unreadable_header_is_refused(rep, text, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        run(text, by=rep)


def test_extra_values_are_rejected(rep):
    report = run("email\na@x.example,extra\n", by=rep)
    assert report.rejected == [RejectedRow(2, "more values than columns in the header")]


def test_import_costs_a_few_queries_whatever_the_rows(
    rep, django_assert_max_num_queries
):
    LeadFactory(owner=rep, email="dup@x.example")
    rows = "".join(f"p{n}@x.example\n" for n in range(500)) + "dup@x.example\n"
    # users; savepoint and release; per batch: existing e-mails, scope of the
    # matches, one insert (an executemany; PostgreSQL's COPY is not counted by
    # Django) and one update; once, the status history of the new records (no
    # prospect was raised, so not the second history insert) and its rows
    # added to the daily status and new-prospect rollups.
    with django_assert_max_num_queries(10):
        report = run("email\n" + rows, by=rep, batch_size=1000)
    assert (report.created, report.merged) == (500, 1)


def test_imported_rows_store_what_the_model_would(rep):
    # given a prospect row and a lead row
    text = "email,first_name,status\np@x.example,Pia,prospect\nl@x.example,Leo,lead\n"
    # when
    report = run(text, by=rep)
    # then both carry the model's defaults and their timestamps
    assert report.created == 2
    prospect = Lead.objects.get(email="p@x.example")
    lead = Lead.objects.get(email="l@x.example")
    for record in (prospect, lead):
        assert record.created_at is not None
        assert record.updated_at == record.created_at
        assert (record.touch_count, record.activity_count) == (0, 0)
        assert (record.score, record.offer, record.consent) == (None, None, False)
        assert record.qualified_at is None
        assert record.first_activity_at is None
    assert prospect.became_lead_at is None
    assert lead.became_lead_at == lead.created_at


def test_blank_lines_are_skipped_and_line_numbers_kept(rep):
    report = run("email\na@x.example\n\nnope\n", by=rep)
    assert report.created == 1
    assert report.rejected == [RejectedRow(4, "email: 'nope' is not an e-mail")]


def test_short_rows_leave_the_missing_columns_blank(rep):
    report = run("first_name,email,phone\nAna,a@x.example\n", by=rep)
    assert report.created == 1
    assert Lead.objects.get().phone == ""


def test_tabs_backslashes_and_line_breaks_are_stored_as_given(rep):
    # PostgreSQL receives new rows in COPY's text format, where these are escapes.
    text = 'email,first_name,company_name\na@x.example,"A\tB","C\\N\nD\r\\E"\n'
    report = run(text, by=rep)
    assert report.created == 1
    lead = Lead.objects.get()
    assert (lead.first_name, lead.company_name) == ("A\tB", "C\\N\nD\r\\E")


def test_unusual_but_valid_emails_are_accepted(rep):
    text = 'email\n"""ana..lima""@x.example"\nbo@münchen.example\ncy@localhost\n'
    report = run(text, by=rep)
    assert (report.created, report.rejected) == (3, [])
    assert Lead.objects.filter(email='"ana..lima"@x.example').exists()


def test_command_imports_a_file(tmp_path, rep, capsys):
    path = tmp_path / "prospects.csv"
    path.write_text("email,first_name\na@x.example,Ana\n", encoding="utf-8")
    call_command("import_leads", str(path), "--owner", rep.username, verbosity=0)
    assert Lead.objects.get().owner == rep


def test_command_reports_rejected_rows_and_fails_all_or_nothing(tmp_path, rep):
    path = tmp_path / "prospects.csv"
    path.write_text("email\na@x.example\nnope\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command(
            "import_leads", str(path), "--owner", rep.username, stderr=err, verbosity=0
        )
    assert "line 3: email" in err.getvalue()
    assert not Lead.objects.exists()


def test_command_keep_valid(tmp_path, rep):
    path = tmp_path / "prospects.csv"
    path.write_text("email\na@x.example\nnope\n", encoding="utf-8")
    out = io.StringIO()
    call_command(
        "import_leads",
        str(path),
        "--owner",
        rep.username,
        "--mode",
        "keep-valid",
        stdout=out,
        stderr=io.StringIO(),
        verbosity=0,
    )
    assert "1 created" in out.getvalue()
    assert Lead.objects.count() == 1


def test_command_without_owner_rejects_rows_without_owner(tmp_path, rep):
    path = tmp_path / "prospects.csv"
    path.write_text(f"email,owner\na@x.example,{rep.username}\nb@x.example,\n")
    with pytest.raises(CommandError):
        call_command("import_leads", str(path), stderr=io.StringIO(), verbosity=0)
    assert not Lead.objects.exists()
