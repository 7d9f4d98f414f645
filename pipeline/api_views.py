"""REST endpoints of the pipeline: deals and their actions, activities, conversion.

Views translate HTTP to service calls and back: the ``ETag`` is the deal's
version, ``If-Match`` becomes the services' ``expected_version``.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api_versioning import (
    IF_MATCH,
    VersionedViewSetMixin,
    created_headers,
    etag,
    expected_version,
    stale_response,
    versioned_schema,
)
from crm.errors import StaleVersion
from crm.export import CsvExportMixin
from crm.permissions import IsSalesUser
from crm.serializers import stale_response_serializer
from leads.models import Lead
from pipeline import activities, services
from pipeline.api_examples import (
    ACTIVITY_EXAMPLES,
    CONVERT_EXAMPLES,
    DEAL_CREATE_EXAMPLES,
    HISTORY_EXAMPLES,
    LOSE_EXAMPLES,
    MOVE_EXAMPLES,
    REOPEN_EXAMPLES,
    WIN_EXAMPLES,
)
from pipeline.filters import ActivityFilter, DealFilter
from pipeline.models import Activity, Deal, StageRules
from pipeline.serializers import (
    ActivityCompleteSerializer,
    ActivityNotesSerializer,
    ActivitySerializer,
    ConflictResponseSerializer,
    DealCreateSerializer,
    DealLoseSerializer,
    DealMoveSerializer,
    DealReopenSerializer,
    DealSerializer,
    LeadConvertSerializer,
    StageChangeSerializer,
    StaleDealResponseSerializer,
)

# Statuses of a deal write besides its 200: the state forbids it, or If-Match is old.
WRITE_RESPONSES = {
    200: DealSerializer,
    409: ConflictResponseSerializer,
    412: StaleDealResponseSerializer,
}


def _service_errors(fields_by_action: dict[str, list[str]]):
    """Document the "invalid" code that services' field messages carry."""

    def decorate(view):
        for action_name, fields in fields_by_action.items():
            for name in fields:
                view = extend_validation_errors(
                    ["invalid"], field_name=name, actions=[action_name]
                )(view)
        return view

    return decorate


# Deal fields on which ``services`` raise their own field messages.
DEAL_FIELDS_CHECKED = [
    "title",
    "owner",
    "amount",
    "currency",
    "probability",
    "channel",
    "contact",
    "stage",
]


def _deal_id(pk: str | None) -> int:
    """Return the URL's deal id; anything else is a missing deal (404)."""
    if pk is None or not pk.isdigit():
        raise Http404
    return int(pk)


@_service_errors(
    {
        "create": DEAL_FIELDS_CHECKED,
        "update": [*DEAL_FIELDS_CHECKED, "If-Match"],
        "partial_update": [*DEAL_FIELDS_CHECKED, "If-Match"],
        "move": ["stage", "If-Match"],
        "win": ["If-Match"],
        "lose": ["reason", "notes", "If-Match"],
        "reopen": ["stage", "If-Match"],
    }
)
@extend_schema_view(create=extend_schema(examples=DEAL_CREATE_EXAMPLES))
class DealViewSet(
    CsvExportMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Deals in the caller's scope. Never deleted: lose a deal instead (its
    stage history is what the funnel KPIs are computed from)."""

    queryset = Deal.objects.none()  # the schema's model; rows come from get_queryset
    serializer_class = DealSerializer
    permission_classes = [IsSalesUser]
    filterset_class = DealFilter
    search_fields = ["title", "company__name"]
    ordering_fields = [
        "created_at",
        "updated_at",
        "amount",
        "expected_close_on",
        "stage_entered_at",
        "closed_at",
        "title",
    ]
    ordering = ["-created_at", "-pk"]

    def get_queryset(self):
        # The serializer reads only columns of the deal (related objects as ids)
        # and the ``is_stale`` annotation: one query per page, whatever its size.
        deals = Deal.objects.visible_to(self.request.user)
        if self.action in ("list", "retrieve", "export"):
            return deals.with_staleness()
        # Writes answer with the deal they changed; ``_respond`` works out its
        # staleness in memory rather than reading it again.
        return deals

    def get_serializer_class(self):
        if self.action == "create":
            return DealCreateSerializer
        return super().get_serializer_class()

    def _respond(
        self,
        deal: Deal,
        status_code: int = status.HTTP_200_OK,
        *,
        just_moved: bool = False,
    ) -> Response:
        # A deal that entered its stage in this request is not stale at the
        # moment of the write (nor is a closed one): no need to read the rules.
        deal.is_stale = (
            False if just_moved else StageRules.load().is_stale(deal, timezone.now())
        )
        headers = (
            created_headers(self.request, deal, self.basename)
            if status_code == status.HTTP_201_CREATED
            else {"ETag": etag(deal)}
        )
        return Response(
            DealSerializer(deal, context=self.get_serializer_context()).data,
            status=status_code,
            headers=headers,
        )

    def handle_exception(self, exc):
        if isinstance(exc, StaleVersion) and exc.current is not None:
            current = exc.current
            current.is_stale = StageRules.load().is_stale(current, timezone.now())
            return stale_response(
                exc,
                DealSerializer(current, context=self.get_serializer_context()).data,
            )
        return super().handle_exception(exc)

    def retrieve(self, request, *args, **kwargs):
        deal = self.get_object()
        return Response(self.get_serializer(deal).data, headers={"ETag": etag(deal)})

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deal = services.deal_create(by=request.user, **serializer.validated_data)
        return self._respond(deal, status.HTTP_201_CREATED)

    @extend_schema(parameters=[IF_MATCH], responses=WRITE_RESPONSES)
    def update(self, request, *args, **kwargs):
        deal = self.get_object()
        serializer = self.get_serializer(
            deal, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        deal = services.deal_update(
            deal=deal,
            by=request.user,
            expected_version=expected_version(request),
            **serializer.validated_data,
        )
        return self._respond(deal)

    @extend_schema(parameters=[IF_MATCH], responses=WRITE_RESPONSES)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        request=DealMoveSerializer,
        responses=WRITE_RESPONSES,
        parameters=[IF_MATCH],
        examples=MOVE_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move the deal to another open stage, forward or back."""
        params = DealMoveSerializer(data=request.data)
        if not params.is_valid():
            self.get_object()  # a deal out of scope answers 404 first, as missing
            raise ValidationError(params.errors)
        # The lock is the scope check: one read of the row, not two.
        try:
            deal = services.deal_move(
                deal=Deal(pk=_deal_id(pk)),
                to_stage=params.validated_data["stage"],
                by=request.user,
                expected_version=expected_version(request),
                scope=self.filter_queryset(self.get_queryset()),
            )
        except Deal.DoesNotExist:
            raise Http404 from None
        return self._respond(deal, just_moved=True)

    @extend_schema(
        request=None,
        responses=WRITE_RESPONSES,
        parameters=[IF_MATCH],
        examples=WIN_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def win(self, request, pk=None):
        """Close the deal as won (only from the closing stage)."""
        deal = services.deal_win(
            deal=self.get_object(),
            by=request.user,
            expected_version=expected_version(request),
        )
        return self._respond(deal)

    @extend_schema(
        request=DealLoseSerializer,
        responses=WRITE_RESPONSES,
        parameters=[IF_MATCH],
        examples=LOSE_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def lose(self, request, pk=None):
        """Close the deal as lost, with a reason."""
        deal = self.get_object()
        params = DealLoseSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        deal = services.deal_lose(
            deal=deal,
            by=request.user,
            reason=params.validated_data["reason"],
            notes=params.validated_data["notes"],
            expected_version=expected_version(request),
        )
        return self._respond(deal)

    @extend_schema(
        request=DealReopenSerializer,
        responses=WRITE_RESPONSES,
        parameters=[IF_MATCH],
        examples=REOPEN_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Put a won or lost deal back into a stage."""
        deal = self.get_object()
        params = DealReopenSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        deal = services.deal_reopen(
            deal=deal,
            by=request.user,
            stage=params.validated_data.get("stage"),
            expected_version=expected_version(request),
        )
        return self._respond(deal)

    @extend_schema(
        responses=StageChangeSerializer(many=True),
        filters=False,
        examples=HISTORY_EXAMPLES,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request, pk=None):
        """List the deal's stage changes, newest first."""
        deal = self.get_object()
        changes = deal.stage_changes.order_by("-changed_at", "-pk")
        page = self.paginate_queryset(changes)
        if page is not None:
            return self.get_paginated_response(
                StageChangeSerializer(page, many=True).data
            )
        return Response(StageChangeSerializer(changes, many=True).data)


@_service_errors(
    {
        "create": [
            "kind",
            "direction",
            "outcome",
            "lead",
            "contact",
            "deal",
            "owner",
            "occurred_at",
            "duration_seconds",
            "due_at",
        ],
        "complete": ["outcome", "occurred_at", "duration_seconds"],
    }
)
@extend_validation_errors(["invalid"], field_name="done", actions=["complete"])
@versioned_schema(ActivitySerializer)
@extend_schema_view(create=extend_schema(examples=ACTIVITY_EXAMPLES))
class ActivityViewSet(
    VersionedViewSetMixin,
    CsvExportMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Activities in the caller's scope: a log, so created and read; only the
    notes can be completed afterwards (as in the admin)."""

    queryset = Activity.objects.none()  # the schema's model; see get_queryset
    serializer_class = ActivitySerializer
    permission_classes = [IsSalesUser]
    filterset_class = ActivityFilter
    search_fields = ["notes"]
    ordering_fields = ["occurred_at", "due_at", "duration_seconds"]
    ordering = ["-occurred_at", "-pk"]

    def get_queryset(self):
        # The serializer reads related objects as ids only: no join needed.
        return Activity.objects.visible_to(self.request.user)

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ActivityNotesSerializer
        return super().get_serializer_class()

    def represent(self, instance) -> dict:
        return ActivitySerializer(instance, context=self.get_serializer_context()).data

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        activity = activities.activity_log(by=request.user, **serializer.validated_data)
        return self.versioned_response(activity, status.HTTP_201_CREATED)

    @extend_schema(
        request=ActivityCompleteSerializer,
        responses={
            200: ActivitySerializer,
            409: ConflictResponseSerializer,
            412: stale_response_serializer(ActivitySerializer),
        },
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def complete(self, request, pk=None):
        """Mark a planned activity done (it then counts in engagement and KPIs)."""
        activity = self.get_object()
        params = ActivityCompleteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        activity = activities.activity_complete(
            activity=activity,
            by=request.user,
            expected_version=expected_version(request),
            **params.validated_data,
        )
        return self.versioned_response(activity)


@extend_validation_errors(["invalid"], field_name="amount", methods=["post"])
@extend_validation_errors(["invalid"], field_name="currency", methods=["post"])
@extend_validation_errors(["invalid"], field_name="title", methods=["post"])
@extend_validation_errors(["invalid"], field_name="stage", methods=["post"])
@extend_validation_errors(["invalid"], field_name="status", methods=["post"])
class LeadConvertView(APIView):
    """``POST leads/{id}/convert/``: turn a qualified lead into a deal."""

    permission_classes = [IsSalesUser]

    @extend_schema(
        request=LeadConvertSerializer,
        responses={
            201: DealSerializer,
            409: ConflictResponseSerializer,
            412: ConflictResponseSerializer,
        },
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The lead's version, from its ETag; 412 if it changed.",
            )
        ],
        examples=CONVERT_EXAMPLES,
    )
    def post(self, request, pk: int):
        lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
        params = LeadConvertSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        deal = services.lead_convert(
            lead=lead,
            by=request.user,
            expected_version=expected_version(request),
            **params.validated_data,
        )
        deal = Deal.objects.with_staleness().get(pk=deal.pk)
        return Response(
            DealSerializer(deal, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
            headers=created_headers(request, deal, "deal"),
        )
