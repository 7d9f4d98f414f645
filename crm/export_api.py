"""The export jobs' endpoints: ``/api/v1/exports/`` (crm.export_jobs).

``POST`` checks the kind and the filters and answers 202 with the queued export
and its ``Location``; ``GET /exports/{id}/`` shows its progress and, once done,
the link to ``GET /exports/{id}/download/``. A user sees their own exports only
(admins every one): another user's export is the 404 of a missing one.
"""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from crm import export_jobs
from crm.export import CsvRenderer
from crm.models import ExportJob, ExportStatus
from crm.permissions import IsSalesUser
from crm.serializers import ModelSerializer, RefusalResponseSerializer

MAX_FILTERS = 20
MAX_FILTER_LENGTH = 200
# The file of a ``companies`` export: the list's CSV_COLUMNS, one row.
DOWNLOAD_EXAMPLE = (
    "id,name,domain,industry,employees,country,owner,created_at\r\n"
    "42,Initech,initech.example,Software,120,FR,ada,2026-10-05T11:30:00+02:00\r\n"
)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": MAX_FILTER_LENGTH},
        "maxProperties": MAX_FILTERS,
    }
)
class FiltersField(serializers.Field):
    """A list's filters: ``{"name": "value"}``, as its query string would say.

    Every refusal is on ``filters`` and names the filter in its message, so
    the API's error format can document it (a key-per-error ``attr`` would be
    unbounded).
    """

    default_error_messages = {
        "invalid": _("Not a valid value."),
        "not_a_dict": _("Expected an object of filters."),
        "too_many": _("At most %(count)d filters."),
        "unknown": _("This list has no such filter."),
        "invalid_choice": _("Select a valid choice."),
    }

    def to_internal_value(self, data) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail("not_a_dict")
        if len(data) > MAX_FILTERS:
            self.fail("too_many", count=MAX_FILTERS)
        filters = {}
        for name, value in data.items():
            text = str(value) if isinstance(value, int | float | str) else None
            if (
                text is None
                or isinstance(value, bool)
                or len(text) > MAX_FILTER_LENGTH
                or "\x00" in text + str(name)
            ):
                raise serializers.ValidationError(
                    f"{name}: {self.error_messages['invalid']}", code="invalid"
                )
            filters[str(name)] = text
        return filters

    def to_representation(self, value):
        return value


class ExportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=sorted(export_jobs.KINDS), help_text=_("The list to export.")
    )
    filters = FiltersField(
        required=False,
        default=dict,
        help_text=_(
            "The list's filters, named as its query parameters, e.g. "
            '{"status": "qualified", "created_after": "2026-01-01"}.'
        ),
    )


class ExportProgressSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text=_("Rows written so far."))
    total = serializers.IntegerField(
        allow_null=True, help_text=_("Rows to write, counted when the job started.")
    )
    rate = serializers.FloatField(help_text=_("Rows written per second."))


class ExportJobSerializer(ModelSerializer):
    """An export: its progress while it runs, its download link once done.

    The file is deleted ``EXPORT_FILES_KEEP_DAYS`` (2 by default) after it was
    written (``expires_at``); the export is then ``expired``.
    """

    filters = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    expires_at = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "kind",
            "filters",
            "status",
            "progress",
            "download_url",
            "size",
            "expires_at",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_filters(self, job: ExportJob) -> dict:
        return job.filters.get("params", {})

    @extend_schema_field(ExportProgressSerializer)
    def get_progress(self, job: ExportJob) -> dict:
        return export_jobs.progress(job)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != ExportStatus.DONE:
            return None
        url = reverse("export-download", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_expires_at(self, job: ExportJob):
        return export_jobs.expires_at(job)


class ExportNotReady(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The export is not done yet: see its status.")
    default_code = "export_not_ready"


class ExportExpired(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = _("The export's file has been deleted: ask for a new export.")
    default_code = "export_expired"


class ExportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """CSV exports of the lists, written by background jobs.

    ``POST`` answers 202 at once with the queued export; ``GET /exports/{id}/``
    shows its progress, then its ``download_url``. A user sees their own
    exports (admins all).
    """

    queryset = ExportJob.objects.none()  # the schema's model
    serializer_class = ExportJobSerializer
    permission_classes = [IsSalesUser]
    filterset_fields = ["status", "kind"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return ExportJob.objects.visible_to(self.request.user)

    def finalize_response(self, request, response, *args, **kwargs):
        # A download's refusals (404, 409, 410) are API errors in JSON.
        if getattr(self, "action", None) == "download" and isinstance(
            response, Response
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        request=ExportRequestSerializer, responses={202: ExportJobSerializer}
    )
    def create(self, request):
        """Ask for the CSV export of a list; the file is written in the background."""
        params = ExportRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        job = export_jobs.export_start(
            by=request.user,
            kind=params.validated_data["kind"],
            params=params.validated_data["filters"],
        )
        job.refresh_from_db()  # an export run in-process has its file now
        response = Response(
            self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED
        )
        response["Location"] = request.build_absolute_uri(
            reverse("export-detail", args=[job.pk])
        )
        return response

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            409: RefusalResponseSerializer,
            410: RefusalResponseSerializer,
        },
        examples=[
            OpenApiExample(
                "A companies export",
                value=DOWNLOAD_EXAMPLE,
                media_type="text/csv",
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    @action(detail=True, methods=["get"], renderer_classes=[CsvRenderer, JSONRenderer])
    def download(self, request, pk=None):
        """Download the export's CSV file (409 until done, 410 once deleted)."""
        job = self.get_object()
        if job.status == ExportStatus.EXPIRED:
            raise ExportExpired
        if job.status != ExportStatus.DONE:
            raise ExportNotReady
        return FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=job.filename,
            content_type="text/csv; charset=utf-8",
        )
