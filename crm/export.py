"""Streaming CSV export, shared by the API's ``export/`` actions and the admin.

Rows are read with ``values_list().iterator()`` and written one at a time, so a
million leads never sit in memory together; the file is UTF-8 with a BOM (so a
spreadsheet detects the encoding), dates are ISO 8601 and decimals use a dot.

Text a spreadsheet would run as a formula (a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is prefixed with an apostrophe, as
OWASP recommends against CSV injection: an anonymous capture or an import must
not plant ``=HYPERLINK(...)`` in the file a manager opens. Numbers (and text
that is a plain number) are left alone, so a negative amount stays a number.
Every CSV the product writes goes through ``csv_cell``.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from crm.replica import replica_reads
from crm.serializers import RefusalResponseSerializer

CHUNK_SIZE = 2000

logger = logging.getLogger(__name__)


class _Echo:
    """A file-like object whose write returns the line, for streaming."""

    def write(self, value: str) -> str:
        return value


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def formula_safe(text: str) -> str:
    """Return ``text`` so that a spreadsheet shows it instead of evaluating it."""
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_cell(value) -> str:
    """Return one value as a CSV cell: ISO dates, plain numbers, safe text."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return (
            timezone.localtime(value).isoformat()
            if timezone.is_aware(value)
            else value.isoformat()
        )
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return formula_safe(str(value))


def csv_rows(queryset: QuerySet, columns: Sequence[tuple[str, str]]) -> Iterator[str]:
    """Yield the CSV lines, header first, of ``queryset`` for (header, field)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([header for header, _ in columns])
    rows: Iterable = queryset.values_list(*(field for _, field in columns)).iterator(
        chunk_size=CHUNK_SIZE
    )
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_write(queryset: QuerySet, columns, file, *, every: int, on_rows) -> int:
    """Write ``queryset`` as CSV to the binary ``file``; return the rows written.

    ``on_rows(n)`` is called every ``every`` rows (a job's progress).
    """
    lines = csv_rows(queryset, columns)
    file.write(next(lines).encode())
    count = 0
    for line in lines:
        file.write(line.encode())
        count += 1
        if count % every == 0:
            on_rows(count)
    return count


def _aborting(lines: Iterator[str], filename: str) -> Iterator[str]:
    """Pass the lines on; if producing one fails, log it and let it propagate.

    The status line is sent by then, so the only honest signal left is to
    abort the connection: the WSGI server does when the body raises (with
    HTTP/1.1 chunked transfer the client sees an incomplete response, never a
    complete-looking truncated file).
    """
    try:
        yield from lines
    except Exception:
        logger.exception("CSV export %s failed mid-stream: response aborted", filename)
        raise


def csv_response(
    queryset: QuerySet, columns: Sequence[tuple[str, str]], filename: str
) -> StreamingHttpResponse:
    """Stream ``queryset`` as a CSV download.

    The query runs and its first rows are read before the response starts, so a
    query that fails at once (a statement timeout, a lost connection) is an
    ordinary error response; a failure later aborts the stream (``_aborting``).
    """
    lines = csv_rows(queryset, columns)
    # The query starts here, so the rest of the stream keeps reading through the
    # cursor opened on the replica (when there is one) after the block ends.
    with replica_reads():
        head = list(itertools.islice(lines, 2))  # the header, then the first row
    response = StreamingHttpResponse(
        itertools.chain(head, _aborting(lines, filename)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


class CsvRenderer(BaseRenderer):
    """Lets clients ask for ``text/csv``; the streamed response is already CSV."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class ExportTooLarge(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "export_too_large"


def too_large(limit: int) -> ExportTooLarge:
    return ExportTooLarge(
        _(
            "This export has more than %(limit)s rows: ask for it as a background "
            "job with POST /api/v1/exports/, or narrow the filters."
        )
        % {"limit": f"{limit:,}"}
    )


def exceeds(queryset: QuerySet, limit: int) -> bool:
    """Return whether ``queryset`` has more than ``limit`` rows (bounded count)."""
    with replica_reads():
        return queryset[: limit + 1].count() > limit


class CsvExportMixin:
    # Adds ``GET <list>/export/``: the filtered, visible list as a streamed CSV,
    # up to EXPORT_SYNC_MAX_ROWS rows (more is a 422 pointing to the export
    # jobs, crm.export_jobs, which build their rows with ``export_queryset``).
    # The columns are the model's ``CSV_COLUMNS``, which the admin's export
    # action uses too. (A comment: a docstring would become the description of
    # every operation of the viewsets that mix it in.)

    @classmethod
    def export_queryset(cls, *, user, filters: dict[str, str]) -> QuerySet:
        # The list's rows for ``user`` with ``filters`` (its query parameters),
        # through the viewset's own get_queryset and filter backends, so that a
        # job exports what ``GET <list>/export/`` would. Invalid filters raise
        # the list's ValidationError.
        http = HttpRequest()
        http.method = "GET"
        http.GET = QueryDict(mutable=True)
        for name, value in filters.items():
            http.GET[name] = value
        view = cls(action="export", format_kwarg=None, args=(), kwargs={})
        request = Request(http)
        request.user = user
        view.request = request
        return view.filter_queryset(view.get_queryset()).order_by("pk")

    def finalize_response(self, request, response, *args, **kwargs):
        # An export's errors (a bad filter, a failed query) are ordinary API
        # errors in JSON, not text handed to the CSV renderer.
        if getattr(self, "action", None) == "export" and isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        # Text, not binary: CSV is UTF-8 text, and generated clients read it so.
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            422: OpenApiResponse(
                RefusalResponseSerializer,
                description="More rows than EXPORT_SYNC_MAX_ROWS (10,000 by "
                "default): use POST /api/v1/exports/.",
            ),
        },
        description="The list, with the same filters and visibility, as CSV, up "
        "to EXPORT_SYNC_MAX_ROWS rows (10,000 by default); larger exports are "
        "background jobs (POST /api/v1/exports/).",
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        renderer_classes=[CsvRenderer, JSONRenderer],
    )
    def export(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset()).order_by("pk")
        if exceeds(queryset, settings.EXPORT_SYNC_MAX_ROWS):
            raise too_large(settings.EXPORT_SYNC_MAX_ROWS)
        model = queryset.model
        return csv_response(queryset, model.CSV_COLUMNS, model._meta.model_name)
