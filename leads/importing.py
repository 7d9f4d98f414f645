"""Import prospects and leads from a CSV file (prospect lists), in bulk.

The file is read as a stream, one batch of rows at a time, so memory stays flat
whatever the file's size: each batch is validated without touching the database
(owners are loaded once; e-mails go through one precompiled pattern, and only
unusual ones through Django's ``validate_email``), then written in the one
transaction of the import: one query finds which e-mails of the batch already
exist (rows of earlier batches included, which is how a duplicate further down
the file is merged), new rows
are written as plain tuples, without model instances (PostgreSQL: ``COPY``;
other databases: one ``executemany`` INSERT), and matches are merged with one
``UPDATE ... FROM (VALUES ...)`` per chunk. Never a query per row: 100,000 rows
import in a few seconds (figures in docs/leads.md).

A bulk import emits no webhook events and records no touches: it is a data load,
not a capture (docs/leads.md). A row the CSV parser cannot read (a field longer
than ``csv.field_size_limit()``, 131,072 characters) or holding a NUL character
(which PostgreSQL cannot store) is rejected with its line number, like any other
bad row; only the first ``MAX_REPORTED_REJECTIONS`` are listed.
"""

from __future__ import annotations

import csv
import datetime
import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import NOT_PROVIDED, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from tqdm import tqdm

from crm import policy
from crm.models import User
from crm.reference import normalize_email
from leads import rollups as lead_rollups
from leads.models import (
    Channel,
    Lead,
    LeadStatus,
    LeadStatusChange,
    Source,
    activities,
    first_response_since,
)
from leads.services import CREATABLE, MERGEABLE_FIELDS

COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "company_name",
    "channel",
    "source",
    "status",
    "owner",
)
# A CSV upload is, by default, an outbound prospect list.
DEFAULTS = {
    "channel": Channel.OUTBOUND,
    "source": Source.PROSPECT_LIST,
    "status": LeadStatus.PROSPECT,
}
MAX_LENGTHS = {
    name: Lead._meta.get_field(name).max_length
    for name in (
        "first_name",
        "last_name",
        "email",
        "phone",
        "job_title",
        "company_name",
    )
}
BATCH_SIZE = 2000
MAX_REPORTED_REJECTIONS = 1000
CHANNELS = frozenset(Channel.values)
SOURCES = frozenset(Source.values)
# The usual shape of an address, in ASCII: a strict subset of what Django's
# validate_email accepts (dot-atom of common characters; labels of letters,
# digits and inner hyphens; a TLD of 2-63 letters). A match is valid without
# further checks; anything else (quoted local parts, IDN, IP literals,
# "localhost", or plainly wrong) goes to validate_email, which decides.
# Checked against validate_email in tests/leads/test_import_email_check.py.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
COMMON_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    rf"@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}"
)


class ImportMode(enum.StrEnum):
    ALL_OR_NOTHING = "all-or-nothing"
    KEEP_VALID = "keep-valid"


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: ``saved`` is False when all-or-nothing refused the file."""

    mode: ImportMode
    rows: int = 0
    created: int = 0
    merged: int = 0
    # The first MAX_REPORTED_REJECTIONS rejected rows; rejected_count counts all.
    rejected: list[RejectedRow] = field(default_factory=list)
    rejected_count: int = 0
    saved: bool = False

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED_REJECTIONS:
            self.rejected.append(RejectedRow(line, reason))

    def summary(self) -> str:
        verb = _("Imported") if self.saved else _("Nothing imported")
        return (
            f"{verb} ({self.mode}): {self.rows} rows, {self.created} created, "
            f"{self.merged} merged into existing leads, "
            f"{self.rejected_count} rejected."
        )


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    owner: User | None


class _Rollback(Exception):
    """Raised inside the write transaction to undo an all-or-nothing import."""


def leads_import(
    *,
    file: TextIO,
    by: User | None,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    default_owner: User | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    on_batch: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import a CSV of prospects and leads; merge duplicates by e-mail.

    ``by`` is the user importing (owners must be in their scope, and only their
    leads can be merged into) or None for a trusted operator (any active user).
    A row without ``owner`` goes to ``default_owner`` (else ``by``). With
    ``ALL_OR_NOTHING`` any rejected row cancels the whole import; with
    ``KEEP_VALID`` the valid rows are saved. Raise ``ValidationError`` for a
    file that cannot be read at all (no header, unknown columns).
    ``on_batch`` is called with the report so far after each batch (a job's
    progress).
    """
    report = ImportReport(mode=ImportMode(mode))
    all_or_nothing = report.mode == ImportMode.ALL_OR_NOTHING
    reader = csv.reader(file)
    names = _header(reader)
    owners = _owners(by)
    default_owner = default_owner or by
    batches = _validated_batches(
        reader, names, owners, default_owner, report, batch_size, progress
    )
    insert = _Inserter(timezone.now())
    raised = False
    try:
        with transaction.atomic():
            for batch in batches:
                # After a rejection an all-or-nothing import only reads on, to
                # report every bad row; the transaction is undone below.
                if not (all_or_nothing and report.rejected_count):
                    raised = _write(batch, by, report, insert) or raised
                if on_batch is not None:
                    on_batch(report)
            if report.rejected_count and all_or_nothing:
                raise _Rollback
            if report.created or raised:
                _record_history(insert.now_value, by, raised=raised)
                lead_rollups.status_add_recorded_at(insert.now_value)
                lead_rollups.new_leads_add_became_at(insert.now_value)
                if raised:
                    _answer_raised(insert.now_value)
                    lead_rollups.responses_add_became_at(insert.now_value)
    except _Rollback:
        report.created = report.merged = 0
        report.rejected.sort(key=lambda r: r.line)
        return report
    report.rejected.sort(key=lambda r: r.line)
    report.saved = True
    return report


def _header(reader) -> list[str]:
    """Return the column names of the first row, or refuse the file."""
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise ValidationError(
            _("The header row cannot be read: %(error)s.") % {"error": exc}
        ) from exc
    if not first:
        raise ValidationError(_("The file is empty: the first line must name columns."))
    names = [name.strip().lower() for name in first]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise ValidationError(
            _("Unknown column(s): %(unknown)s. Known columns: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(COLUMNS)}
        )
    if len(set(names)) != len(names):
        raise ValidationError(_("A column is named twice in the header."))
    if not {"email", "first_name", "last_name"} & set(names):
        raise ValidationError(_("The header needs an email or a name column."))
    return names


def _owners(by: User | None) -> dict[str, User]:
    users = (
        User.objects.filter(is_active=True)
        if by is None
        else policy.assignable_owners(by)
    )
    return {user.username.lower(): user for user in users}


def _rows(reader, report: ImportReport, progress: bool) -> Iterator[list[str]]:
    """Yield the data rows; a row the parser cannot read is rejected, not fatal."""
    with tqdm(desc="importing", unit="row", disable=not progress) as bar:
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                report.rows += 1
                report.reject(reader.line_num, f"unreadable row: {exc}")
                continue
            bar.update()
            if raw:  # a blank line is skipped, as csv.DictReader does
                report.rows += 1
                yield raw


def _validated_batches(
    reader,
    names: list[str],
    owners: dict[str, User],
    default_owner: User | None,
    report: ImportReport,
    batch_size: int,
    progress: bool,
) -> Iterator[list[_Row]]:
    """Yield the valid rows in batches, duplicates within a batch merged into the
    first (a duplicate in a later batch is merged by ``_write``)."""
    batch: list[_Row] = []
    by_email: dict[str, _Row] = {}
    for raw in _rows(reader, report, progress):
        line = reader.line_num
        try:
            row = _validated(raw, line, names, owners, default_owner)
        except ValueError as exc:
            report.reject(line, str(exc))
            continue
        key = row.values["email"].lower()
        first = by_email.get(key) if key else None
        if first is None:
            batch.append(row)
            if key:
                by_email[key] = row
        else:
            _merge_values(first.values, row.values)
            report.merged += 1
        if len(batch) >= batch_size:
            yield batch
            batch, by_email = [], {}
    if batch:
        yield batch


_BLANK = dict.fromkeys(COLUMNS, "")


def _validated(
    raw: list[str],
    line: int,
    names: list[str],
    owners: dict[str, User],
    default_owner: User | None,
) -> _Row:
    if len(raw) > len(names):
        raise ValueError(_("more values than columns in the header"))
    if any("\x00" in value for value in raw):
        raise ValueError(_("contains a NUL character"))
    values = _BLANK.copy()  # a short row leaves its last columns blank
    values.update(zip(names, map(str.strip, raw), strict=False))
    for name, default in DEFAULTS.items():
        values[name] = values[name] or default
    for name, limit in MAX_LENGTHS.items():
        if len(values[name]) > limit:
            raise ValueError(f"{name}: longer than {limit} characters")
    # The one normal form of every way in (crm.reference): domain in lower case.
    values["email"] = normalize_email(values["email"])
    if values["email"]:
        if not is_email(values["email"]):
            raise ValueError(f"email: '{values['email']}' is not an e-mail")
    elif not (values["first_name"] or values["last_name"]):
        raise ValueError(_("a row needs an e-mail or a name"))
    if values["channel"] not in CHANNELS:
        raise ValueError(
            f"channel: '{values['channel']}' is not one of {Channel.values}"
        )
    if values["source"] not in SOURCES:
        raise ValueError(f"source: '{values['source']}' is not one of {Source.values}")
    if values["status"] not in CREATABLE:
        raise ValueError(
            f"status: '{values['status']}' cannot be imported (prospect or lead)"
        )
    username = values.pop("owner", "")
    if username:
        owner = owners.get(username.lower())
        if owner is None:
            raise ValueError(f"owner: no active user '{username}' you can assign to")
    elif default_owner is None:
        raise ValueError(_("owner: missing, and no default owner was given"))
    else:
        owner = default_owner
    return _Row(line, values, owner)


def is_email(value: str) -> bool:
    """Return True if ``value`` is an address Django's ``validate_email`` accepts."""
    if COMMON_EMAIL.fullmatch(value):
        return True
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _merge_values(first: dict[str, str], later: dict[str, str]) -> None:
    """Fill the first occurrence's blanks; 'lead' wins over 'prospect'."""
    for name in MERGEABLE_FIELDS:
        if later[name] and not first[name]:
            first[name] = later[name]
    if later["status"] == LeadStatus.LEAD:
        first["status"] = LeadStatus.LEAD


def _write(
    batch: list[_Row], by: User | None, report: ImportReport, insert: _Inserter
) -> bool:
    """Write one batch; return whether it raised an existing prospect to a lead."""
    emails = [row.values["email"].lower() for row in batch if row.values["email"]]
    existing = _existing(emails, by)
    new, fills = [], []
    raised = False
    for row in batch:
        match = existing.get(row.values["email"].lower())
        if match is None:
            new.append(row)
        elif match is _OUT_OF_SCOPE:
            report.reject(row.line, _("email: belongs to a lead outside your scope"))
        else:
            report.merged += 1
            if _brings_news(match, row.values):  # else costs nothing
                fills.append((match["pk"], row.values))
                raised = raised or _raises_to_lead(match["status"], row.values)
    insert(new)
    _fill_blanks(fills, insert.now_value)
    report.created += len(new)
    return raised


def _record_history(now, by: User | None, *, raised: bool) -> None:
    """Append the status history of this import's records (1 or 2 statements).

    Rows are inserted without model instances, so their history is written
    from the rows themselves: what each record was created as, and which
    prospects a row raised to leads. The import's one clock reading ``now``
    marks them (a capture or another import cannot share it to the
    microsecond).
    """
    quote = connection.ops.quote_name
    lead = quote(Lead._meta.db_table)
    history = quote(LeadStatusChange._meta.db_table)
    by_id = by.pk if by is not None else None
    insert = (
        f"INSERT INTO {history} "
        "(lead_id, from_status, to_status, changed_at, changed_by_id) "
    )
    # Both columns were written as the backend adapts a datetime (on SQLite,
    # UTC text without an offset): compare them to ``now`` adapted the same way.
    created = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        # Names come from the models; every value is a parameter.
        cursor.execute(
            f"{insert} SELECT id, '', status, created_at, %s "  # noqa: S608  # nosec B608
            f"FROM {lead} WHERE created_at = %s",
            [by_id, created],
        )
        if raised:
            cursor.execute(
                f"{insert} SELECT id, 'prospect', 'lead', became_lead_at, %s "  # noqa: S608  # nosec B608
                f"FROM {lead} WHERE became_lead_at = %s AND created_at <> %s",
                [by_id, created, created],
            )


def _answer_raised(now) -> None:
    """Recompute the first response of the prospects this import raised, and
    mark the cold calls that won them over (2 statements, 3 when some did:
    their rollup).

    What they received as prospects does not answer a lead; an activity dated
    after ``now`` (a device clock ahead) does, as ``lead_promote`` counts it.
    The raised rows are found as ``_record_history`` finds them.
    """
    lead = connection.ops.quote_name(Lead._meta.db_table)
    created = connection.ops.adapt_datetimefield_value(now)
    raised = RawSQL(  # noqa: S611  # nosec B611
        # The name comes from the model; every value is a parameter.
        f"SELECT id FROM {lead} WHERE became_lead_at = %s AND created_at <> %s",  # noqa: S608  # nosec B608
        [created, created],
    )
    Lead.objects.filter(pk__in=raised).update(
        first_response_at=first_response_since(OuterRef("became_lead_at"))
    )
    activities().filter(lead__in=raised).mark_won_over(now)


_OUT_OF_SCOPE: dict = {}
_EXISTING_FIELDS = ("pk", "email", "status", *MERGEABLE_FIELDS)


def _existing(emails: list[str], by: User | None) -> dict[str, dict]:
    """Map the batch's e-mails already in the database to their lead's values.

    One query finds the matches; when some exist and the importer's scope is
    limited, a second one tells which of them the importer may change.
    """
    if not emails:
        return {}
    leads = list(Lead.objects.with_emails(emails).values(*_EXISTING_FIELDS))
    in_scope = {lead["pk"] for lead in leads}
    if leads and by is not None and not policy.sees_everything(by):
        in_scope = set(
            Lead.objects.visible_to(by)
            .filter(pk__in=in_scope)
            .values_list("pk", flat=True)
        )
    return {
        lead["email"].lower(): lead if lead["pk"] in in_scope else _OUT_OF_SCOPE
        for lead in leads
    }


# Columns taken from each row; every other column gets its model default.
_ROW_COLUMNS = (
    "status",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "company_name",
    "channel",
    "source",
)


# COPY's text format: tab-separated, \N for NULL, these four characters escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: object) -> str:
    """Return one value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


class _Inserter:
    """Insert new leads from validated rows, as ``bulk_create`` would store them.

    ``bulk_create`` spent most of an import building a model instance per row
    and preparing every field's value for every row. Here the values that are
    the same for all rows (timestamps, counters, nulls, the model defaults) are
    prepared once, and each row only contributes its strings and its owner. On
    PostgreSQL the rows are streamed with ``COPY`` as text built here: ~0.1 s
    per 100,000 rows, where psycopg's ``write_row`` took ~0.8 s.
    """

    def __init__(self, now) -> None:
        self.now_value = now
        self.fixed: dict[str, object] = {}
        for model_field in Lead._meta.concrete_fields:
            name = model_field.attname
            if model_field.primary_key or name in (*_ROW_COLUMNS, "owner_id"):
                continue
            if model_field.generated:
                continue  # computed by the database (search_text)
            if name == "became_lead_at":
                continue
            if model_field.db_default is not NOT_PROVIDED:
                continue  # left to the database
            value = (
                now
                if name in ("created_at", "updated_at")
                else model_field.get_default()
            )
            self.fixed[model_field.column] = model_field.get_db_prep_save(
                value, connection
            )
        self.now = Lead._meta.get_field("became_lead_at").get_db_prep_save(
            now, connection
        )
        self.columns = [*_ROW_COLUMNS, "owner_id", "became_lead_at", *self.fixed]
        self.tail = tuple(self.fixed.values())

    def _tuples(self, rows: list[_Row]) -> Iterator[tuple]:
        prospect, now, tail = LeadStatus.PROSPECT, self.now, self.tail
        for row in rows:
            values = row.values
            yield (
                *[values[name] for name in _ROW_COLUMNS],
                row.owner.pk,  # type: ignore[union-attr]  # set by _validated
                None if values["status"] == prospect else now,
                *tail,
            )

    def _copy_lines(self, rows: list[_Row]) -> Iterator[str]:
        prospect, now = LeadStatus.PROSPECT, _copy_text(self.now)
        tail = "".join(f"\t{_copy_text(value)}" for value in self.tail)
        tabs = len(_ROW_COLUMNS) - 1
        for row in rows:
            values = row.values
            fields = [values[name] for name in _ROW_COLUMNS]
            text = "\t".join(fields)
            if text.count("\t") != tabs or "\\" in text or "\n" in text or "\r" in text:
                text = "\t".join(_copy_text(value) for value in fields)
            became = "\\N" if values["status"] == prospect else now
            yield f"{text}\t{row.owner.pk}\t{became}{tail}\n"  # type: ignore[union-attr]

    def __call__(self, rows: list[_Row]) -> None:
        if not rows:
            return
        quote = connection.ops.quote_name
        table = quote(Lead._meta.db_table)
        columns = ", ".join(quote(name) for name in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY streams the rows with no SQL to build or parse per row.
                sql = f"COPY {table} ({columns}) FROM STDIN"
                with cursor.copy(sql) as copy:
                    copy.write("".join(self._copy_lines(rows)))
            else:
                placeholders = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(
                    # Names come from the model; every value is a parameter.
                    f"INSERT INTO {table} ({columns}) "  # noqa: S608  # nosec B608
                    f"VALUES ({placeholders})",
                    list(self._tuples(rows)),
                )


def _raises_to_lead(current_status: str, values: dict[str, str]) -> bool:
    return current_status == LeadStatus.PROSPECT and values["status"] == LeadStatus.LEAD


def _brings_news(current: dict, values: dict[str, str]) -> bool:
    """Return True if the row fills a blank of the lead or raises it to a lead."""
    return _raises_to_lead(current["status"], values) or any(
        values[name] and not current[name] for name in MERGEABLE_FIELDS
    )


FILL_CHUNK = 100  # rows per UPDATE: 7 parameters each, under SQLite's 999


def _fill_blanks(fills: list[tuple[int, dict[str, str]]], now) -> None:
    """Merge rows into existing leads: fill blank fields, raise prospects to leads.

    One ``UPDATE ... FROM (VALUES ...)`` per chunk (PostgreSQL, SQLite >= 3.33).
    ``bulk_update`` would build a CASE per field and row, which took minutes for
    100,000 merges; the rule also runs in SQL, against the row as it is now.
    """
    if not fills:
        return
    # As the ORM writes a datetime: on SQLite, UTC text without an offset,
    # which range filters compare as text (an offset would sort after it).
    at = connection.ops.adapt_datetimefield_value(now)
    table = connection.ops.quote_name(Lead._meta.db_table)
    columns = ["id", *MERGEABLE_FIELDS, "status"]
    fill = ", ".join(
        f"{name} = CASE WHEN {table}.{name} = '' THEN v.{name} ELSE {table}.{name} END"
        for name in MERGEABLE_FIELDS
    )
    raise_ = f"{table}.status = 'prospect' AND v.status = 'lead'"
    for start in range(0, len(fills), FILL_CHUNK):
        chunk = fills[start : start + FILL_CHUNK]
        placeholders = ", ".join(
            "(" + ", ".join(["%s"] * len(columns)) + ")" for _ in chunk
        )
        sql = (
            # Names come from the model; every value is a parameter.
            f"WITH v ({', '.join(columns)}) AS (VALUES {placeholders}) "  # noqa: S608  # nosec B608
            f"UPDATE {table} SET {fill}, "
            f"became_lead_at = CASE WHEN {raise_} THEN %s "
            f"ELSE {table}.became_lead_at END, "
            f"status = CASE WHEN {raise_} THEN 'lead' ELSE {table}.status END, "
            # Every merged row brings news (_brings_news): a rep's open form
            # on it is now stale.
            f"version = {table}.version + 1, "
            f"updated_at = %s "
            f"FROM v WHERE {table}.id = v.id"
        )
        params = [
            value
            for pk, values in chunk
            for value in (
                pk,
                *(values[name] for name in MERGEABLE_FIELDS),
                values["status"],
            )
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, at, at])
