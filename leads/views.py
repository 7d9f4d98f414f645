"""API of prospects, leads, content offers and the public capture endpoint."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from crm.api_errors import RequestTooLarge
from crm.api_versioning import (
    IF_MATCH,
    VersionedViewSetMixin,
    expected_version,
    versioned_schema,
)
from crm.client_ip import client_ip_or_none
from crm.export import CsvExportMixin
from crm.parsers import JSONParser
from crm.permissions import IsSalesUser
from crm.schema import SearchAwareAutoSchema
from crm.serializers import ConflictResponseSerializer, stale_response_serializer
from crm.uploads import limit_upload
from leads import import_jobs, services
from leads.api_examples import (
    CAPTURE_EXAMPLES,
    DISQUALIFY_EXAMPLES,
    LEAD_CREATE_EXAMPLES,
    QUALIFY_EXAMPLES,
)
from leads.filters import ContentOfferFilter, LeadFilter
from leads.models import ContentOffer, Lead, LeadImport
from leads.permissions import OfferEditorOrReadOnly
from leads.serializers import (
    CaptureResponseSerializer,
    CaptureSerializer,
    ConsentInputSerializer,
    ConsentRecordSerializer,
    ContentOfferSerializer,
    DisqualifySerializer,
    ImportUploadSerializer,
    LeadImportSerializer,
    LeadSerializer,
    QualificationSerializer,
    QualifySerializer,
)


# A converted lead is final: deciding on it or promoting a lead again is a 400
# on the record's status (a 409 is for states another action can change).
@extend_validation_errors(
    ["invalid"], field_name="status", actions=["qualify", "disqualify"]
)
@extend_validation_errors(["invalid"], field_name="status", actions=["promote"])
@versioned_schema(LeadSerializer)
@extend_schema_view(create=extend_schema(examples=LEAD_CREATE_EXAMPLES))
class LeadViewSet(
    VersionedViewSetMixin,
    CsvExportMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Prospects and leads in the caller's scope (others answer 404).

    No DELETE: a lead's history (touches, decisions, activities) is what the
    KPIs are made of; a mistaken record is disqualified or deleted by an admin.
    """

    queryset = Lead.objects.none()  # the schema's model; rows come from get_queryset
    serializer_class = LeadSerializer
    permission_classes = [IsSalesUser]
    filterset_class = LeadFilter
    search_fields = ["first_name", "last_name", "email", "company_name"]
    ordering_fields = [
        "created_at",
        "updated_at",
        "became_lead_at",
        "qualified_at",
        "score",
        "last_name",
        "company_name",
    ]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        # "deal" is the reverse one-to-one of pipeline.Deal.lead. Fetched for the
        # page's rows in a second query rather than joined: with the join,
        # PostgreSQL joined all of a rep's leads before sorting (290 ms for a deep
        # page at 1M leads); without it the (owner, -created_at, -id) index
        # serves the page directly (1.6 ms).
        leads = Lead.objects.visible_to(self.request.user)
        if self.action in ("list", "retrieve", "export"):
            return leads.prefetch_related("deal")
        # Writes answer with the row they locked, which reads its deal once.
        return leads

    def perform_versioned_update(self, instance, changes):
        # The owner changes as a reassignment (scope checks); status, score and
        # counters are read-only in LeadSerializer.
        return services.lead_update(
            lead=instance,
            by=self.request.user,
            expected_version=expected_version(self.request),
            **changes,
        )

    @extend_schema(
        request=QualifySerializer,
        responses={
            200: LeadSerializer,
            409: ConflictResponseSerializer,
            412: stale_response_serializer(LeadSerializer),
        },
        parameters=[IF_MATCH],
        examples=QUALIFY_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def qualify(self, request, pk=None):
        """Qualify the lead on its BANT criteria (a prospect: 409; converted: 400)."""
        lead = self.get_object()
        params = QualifySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lead = services.lead_qualify(
            lead=lead,
            by=request.user,
            expected_version=expected_version(request),
            **params.validated_data,
        )
        return self.versioned_response(lead)

    @extend_schema(
        request=DisqualifySerializer,
        responses={
            200: LeadSerializer,
            409: ConflictResponseSerializer,
            412: stale_response_serializer(LeadSerializer),
        },
        parameters=[IF_MATCH],
        examples=DISQUALIFY_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def disqualify(self, request, pk=None):
        """Disqualify the lead with a reason from the fixed list."""
        lead = self.get_object()
        params = DisqualifySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lead = services.lead_disqualify(
            lead=lead,
            by=request.user,
            expected_version=expected_version(request),
            **params.validated_data,
        )
        return self.versioned_response(lead)

    @extend_schema(request=ConsentInputSerializer, responses=LeadSerializer)
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        """Record consent given or withdrawn through you (appended to its history)."""
        lead = self.get_object()
        params = ConsentInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lead = services.lead_consent_record(
            lead=lead, by=request.user, **params.validated_data
        )
        return self.versioned_response(lead)

    @extend_schema(responses=ConsentRecordSerializer(many=True))
    @action(
        detail=True, methods=["get"], url_path="consent-records", filter_backends=[]
    )
    def consent_records(self, request, pk=None):
        """Return the lead's consent evidence, newest first, paginated."""
        lead = self.get_object()
        rows = lead.consent_records.order_by("-recorded_at", "-pk")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(
            ConsentRecordSerializer(page, many=True).data
        )

    @extend_schema(
        request=None,
        responses={
            200: LeadSerializer,
            409: ConflictResponseSerializer,
            412: stale_response_serializer(LeadSerializer),
        },
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """Make the prospect a lead: they showed interest (400 unless a prospect)."""
        lead = services.lead_promote(
            lead=self.get_object(),
            by=request.user,
            expected_version=expected_version(request),
        )
        return self.versioned_response(lead)

    @extend_schema(responses=QualificationSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def qualifications(self, request, pk=None):
        """Return the lead's qualification decisions, newest first, paginated."""
        lead = self.get_object()
        rows = lead.qualifications.order_by("-decided_at", "-pk")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(
            QualificationSerializer(page, many=True).data
        )

    def represent(self, instance) -> dict:
        return LeadSerializer(instance, context=self.get_serializer_context()).data


@versioned_schema(ContentOfferSerializer)
class ContentOfferViewSet(
    VersionedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Content offers. No DELETE: set ``active`` to false to retire one, so that
    touches and leads keep their attribution."""

    queryset = ContentOffer.objects.order_by("title", "pk")
    serializer_class = ContentOfferSerializer
    permission_classes = [OfferEditorOrReadOnly]
    filterset_class = ContentOfferFilter
    search_fields = ["title", "slug"]
    ordering_fields = ["title", "created_at"]


class CaptureThrottle(ScopedRateThrottle):
    """Per client address (anonymous callers), rate ``capture`` in settings.

    The address is ``crm.client_ip``'s: the settings never leave DRF's
    ``NUM_PROXIES`` unset, so a client's own X-Forwarded-For is not trusted.
    """


client_ip = client_ip_or_none


class JsonBodySchema(SearchAwareAutoSchema):
    """Document JSON bodies only: generated clients cannot use an operation that
    offers several body types, and website forms post as they are anyway."""

    def map_parsers(self):
        return ["application/json"]


class CaptureView(APIView):
    """Public endpoint of the website's content forms: no credentials, no session
    (so no CSRF), throttled per client address.

    A filled honeypot (``website``) gets the same 201 as a person, but nothing is
    saved: a bot learns nothing it could adapt to.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [CaptureThrottle]
    throttle_scope = "capture"
    # Websites may post their HTML forms as they are.
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    schema = JsonBodySchema()
    # Marketing sites may retry a form post safely (crm/idempotency.py).
    idempotency_for_anonymous = True

    @extend_schema(
        request=CaptureSerializer,
        description="Capture a visitor of a content offer. Also accepts HTML "
        "form posts (application/x-www-form-urlencoded, multipart/form-data).",
        responses={201: CaptureResponseSerializer},
        examples=CAPTURE_EXAMPLES,
    )
    def post(self, request):
        form = CaptureSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        offer = data["offer"]
        if not data["website"]:
            services.lead_capture(
                offer=offer,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                company=data["company"],
                job_title=data["job_title"],
                phone=data["phone"],
                consent=data["consent"],
                ip_address=client_ip(request),
                page_url=request.META.get("HTTP_REFERER", ""),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        url = offer.download_url
        content_url = request.build_absolute_uri(url) if url else None
        return Response(
            {"offer": offer.slug, "content_url": content_url},
            status=status.HTTP_201_CREATED,
        )


class ImportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """CSV imports of prospects and leads, run as background jobs.

    ``POST`` stores the file and answers 202 at once with the queued import;
    ``GET /imports/{id}/`` shows its progress while it runs and its report
    (rejected rows with their reasons) when it ends. A user sees the imports
    in their scope (a rep their own).
    """

    queryset = LeadImport.objects.none()  # the schema's model
    serializer_class = LeadImportSerializer
    permission_classes = [IsSalesUser]
    parser_classes = [MultiPartParser]  # a file upload
    filterset_fields = ["status"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return LeadImport.objects.visible_to(self.request.user)

    @extend_schema(
        request=ImportUploadSerializer,
        responses={202: LeadImportSerializer},
    )
    def create(self, request):
        """Upload a CSV file; its import runs in the background."""
        limit = settings.LEADS_IMPORT_MAX_BYTES
        handler = limit_upload(request._request, limit)
        too_large = RequestTooLarge(
            _("The file is larger than %(megabytes)d MB.")
            % {"megabytes": limit // 2**20}
        )
        if handler is None:
            raise too_large
        params = ImportUploadSerializer(data=request.data)
        if handler.exceeded:
            raise too_large
        params.is_valid(raise_exception=True)
        job = import_jobs.lead_import_start(
            file=params.validated_data["file"],
            by=request.user,
            mode=params.validated_data["mode"],
        )
        job.refresh_from_db()  # an import run in-process has its report now
        response = Response(
            self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED
        )
        response["Location"] = request.build_absolute_uri(
            reverse("import-detail", args=[job.pk])
        )
        return response
