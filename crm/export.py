"""Streaming CSV export, shared by the API's ``export/`` actions and the admin.

Rows are read with ``values_list().iterator()`` and written one at a time, so a
million leads never sit in memory together; the file is UTF-8 with a BOM (so a
spreadsheet detects the encoding), dates are ISO 8601 and decimals use a dot.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer

CHUNK_SIZE = 2000


class _Echo:
    """A file-like object whose write returns the line, for streaming."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
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
    return str(value)


def csv_rows(queryset: QuerySet, columns: Sequence[tuple[str, str]]) -> Iterator[str]:
    """Yield the CSV lines, header first, of ``queryset`` for (header, field)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([header for header, _ in columns])
    rows: Iterable = queryset.values_list(*(field for _, field in columns)).iterator(
        chunk_size=CHUNK_SIZE
    )
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def csv_response(
    queryset: QuerySet, columns: Sequence[tuple[str, str]], filename: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_rows(queryset, columns), content_type="text/csv; charset=utf-8"
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


class CsvExportMixin:
    # Adds ``GET <list>/export/``: the filtered, visible list as a streamed CSV.
    # The columns are the model's ``CSV_COLUMNS``, which the admin's export
    # action uses too. (A comment: a docstring would become the description of
    # every operation of the viewsets that mix it in.)

    @extend_schema(
        # Text, not binary: CSV is UTF-8 text, and generated clients read it so.
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
        description="The list, with the same filters and visibility, as CSV.",
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        renderer_classes=[CsvRenderer, JSONRenderer],
    )
    def export(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset()).order_by("pk")
        model = queryset.model
        return csv_response(queryset, model.CSV_COLUMNS, model._meta.model_name)
