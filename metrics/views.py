"""The metrics API: read-only KPI endpoints and the targets resource.

Views only translate: they validate the query, check the segment against the
visibility rule (``segment_for``), call ``metrics.kpis`` / ``metrics.report``
and format the result.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import exceptions, viewsets
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import policy
from crm.api_versioning import VersionedViewSetMixin, versioned_schema
from crm.permissions import IsSalesUser
from crm.replica import replica_reads
from metrics import kpis
from metrics.filters import KpiTargetFilter
from metrics.models import KpiTarget
from metrics.report import kpi_report
from metrics.segments import Segment, segment_for
from metrics.serializers import (
    ChurnQuerySerializer,
    ChurnSeriesSerializer,
    FunnelSerializer,
    KpiQuerySerializer,
    KpiReportSerializer,
    KpiTargetSerializer,
    churn_data,
    funnel_data,
    report_data,
)

QUERY_PARAMETERS = [
    OpenApiParameter(
        "start",
        str,
        description="First day (YYYY-MM-DD), included; "
        "default: the current quarter's first day.",
    ),
    OpenApiParameter(
        "end",
        str,
        description="Last day (YYYY-MM-DD), included; "
        "default: the current quarter's last day.",
    ),
    OpenApiParameter("team", int, description="A team's id (managers: theirs)."),
    OpenApiParameter("owner", int, description="A rep's id (reps: themselves)."),
    OpenApiParameter("channel", str, enum=["inbound", "outbound"]),
]


def documents_query_errors(view):
    """Declare the 400 errors of the query parameters in the schema."""
    for field, codes in {
        "start": ["invalid", "date_out_of_range"],
        "end": ["invalid", "date_out_of_range"],
        "team": ["does_not_exist", "incorrect_type"],
        "owner": ["does_not_exist", "incorrect_type"],
        "channel": ["invalid_choice"],
        "interval": ["invalid_choice"],
    }.items():
        view = extend_validation_errors(codes, field_name=field, methods=["get"])(view)
    return view


class KpiQueryView(APIView):
    permission_classes = [IsSalesUser]
    query_serializer_class = KpiQuerySerializer

    def segment(self, request) -> tuple[dict, Segment]:
        query = self.query_serializer_class(
            data=request.query_params, context={"request": request}
        )
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            segment = segment_for(
                viewer=request.user,
                team=params.get("team"),
                owner=params.get("owner"),
                channel=params.get("channel"),
            )
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        return params, segment


@documents_query_errors
class KpiReportView(KpiQueryView):
    """Every KPI of the period, with its unit, target and attainment."""

    @extend_schema(parameters=QUERY_PARAMETERS, responses=KpiReportSerializer)
    def get(self, request):
        params, segment = self.segment(request)
        with replica_reads():
            report = kpi_report(period=params["period"], segment=segment)
        return Response(report_data(report))


@documents_query_errors
class FunnelView(KpiQueryView):
    """Deals created in the period per stage reached, and the open pipeline."""

    @extend_schema(parameters=QUERY_PARAMETERS, responses=FunnelSerializer)
    def get(self, request):
        params, segment = self.segment(request)
        period = params["period"]
        with replica_reads():
            funnel = kpis.funnel(period=period, segment=segment)
        return Response(funnel_data(funnel, period, segment))


@documents_query_errors
class ChurnSeriesView(KpiQueryView):
    """Customer churn and MRR, one point per calendar month of the period."""

    query_serializer_class = ChurnQuerySerializer

    @extend_schema(
        parameters=[
            *QUERY_PARAMETERS,
            OpenApiParameter("interval", str, enum=["month"]),
        ],
        responses=ChurnSeriesSerializer,
    )
    def get(self, request):
        params, segment = self.segment(request)
        period = params["period"]
        with replica_reads():
            points = kpis.churn_series(period=period, segment=segment)
        return Response(churn_data(points, period, segment))


@versioned_schema(KpiTargetSerializer)
class KpiTargetViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """KPI targets: managers set their teams' and reps', admins any, reps read."""

    queryset = KpiTarget.objects.none()  # the schema's model; see get_queryset
    serializer_class = KpiTargetSerializer
    permission_classes = [IsSalesUser]
    filterset_class = KpiTargetFilter
    ordering_fields = ["period_start", "kpi"]
    ordering = ["-period_start", "kpi"]

    def get_queryset(self):
        return KpiTarget.objects.visible_to(self.request.user).select_related(
            "team", "owner__team"
        )

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if request.method not in SAFE_METHODS and not policy.may_set_target(
            request.user, team=obj.team, owner=obj.owner
        ):
            raise exceptions.PermissionDenied(
                _("You can change the targets of your teams and their reps only.")
            )

    def create(self, request, *args, **kwargs):
        if not policy.may_set_targets(request.user):
            raise exceptions.PermissionDenied(
                _("Only managers and admins set targets.")
            )
        return super().create(request, *args, **kwargs)
