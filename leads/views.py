"""API of prospects, leads, content offers and the public capture endpoint."""

from __future__ import annotations

import ipaddress

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from crm.export import CsvExportMixin
from crm.permissions import IsSalesUser
from leads import services
from leads.filters import ContentOfferFilter, LeadFilter
from leads.models import ContentOffer, Lead
from leads.permissions import OfferEditorOrReadOnly
from leads.serializers import (
    CaptureResponseSerializer,
    CaptureSerializer,
    ContentOfferSerializer,
    DisqualifySerializer,
    LeadSerializer,
    QualificationSerializer,
    QualifySerializer,
)

# The story of docs/api.md: Ada Lovelace, CTO of Analytical Engines, downloads
# the sales playbook (lead 301, owned by rep 7), is qualified and converted.
# Charles Babbage, met at an event, is disqualified: Ada decides.
CAPTURE_EXAMPLES = [
    OpenApiExample(
        "Visitor downloads the playbook",
        value={
            "offer": "sales-playbook",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@analytical.example",
            "company": "Analytical Engines",
            "job_title": "CTO",
            "consent": True,
        },
        request_only=True,
    ),
    OpenApiExample(
        "Content delivered",
        value={
            "offer": "sales-playbook",
            "content_url": "https://www.demo.example/content/sales-playbook",
        },
        response_only=True,
        status_codes=[201],
    ),
]

_CHARLES = {
    "first_name": "Charles",
    "last_name": "Babbage",
    "email": "charles@analytical.example",
    "phone": "+44 20 7946 0018",
    "job_title": "CFO",
    "company_name": "Analytical Engines",
    "channel": "outbound",
    "source": "event",
    "offer": None,
    "owner": 7,
    "consent": False,
}

LEAD_CREATE_EXAMPLES = [
    OpenApiExample(
        "Rep adds a lead met at an event",
        value={"status": "lead", **_CHARLES},
        request_only=True,
    ),
    OpenApiExample(
        "Lead created",
        value={
            "id": 302,
            "status": "lead",
            **_CHARLES,
            "score": None,
            "deal": None,
            "became_lead_at": "2026-10-06T15:40:02.118734Z",
            "qualified_at": None,
            "disqualified_at": None,
            "converted_at": None,
            "created_at": "2026-10-06T15:40:02.118734Z",
            "updated_at": "2026-10-06T15:40:02.118734Z",
        },
        response_only=True,
        status_codes=[201],
    ),
]

# No "status" in the responses below: the schema's Lead.status lists only the
# statuses a client may create (prospect, lead), although these answers carry
# "qualified" and "disqualified"; the serializer's schema is to be corrected.
QUALIFY_EXAMPLES = [
    OpenApiExample(
        "Three of the four criteria met",
        value={
            "budget": True,
            "authority": True,
            "need": True,
            "timeline": False,
            "notes": "Budget approved for Q1",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Lead qualified",
        description="Score 65: three criteria (3 x 20) and one download (5).",
        value={
            "id": 301,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@analytical.example",
            "phone": "",
            "job_title": "CTO",
            "company_name": "Analytical Engines",
            "channel": "inbound",
            "source": "content_download",
            "offer": 3,
            "owner": 7,
            "score": 65,
            "deal": None,
            "consent": True,
            "became_lead_at": "2026-10-05T09:14:27.503118Z",
            "qualified_at": "2026-10-07T10:02:51.884210Z",
            "disqualified_at": None,
            "converted_at": None,
            "created_at": "2026-10-05T09:14:27.503118Z",
            "updated_at": "2026-10-07T10:02:51.884210Z",
        },
        response_only=True,
    ),
]

DISQUALIFY_EXAMPLES = [
    OpenApiExample(
        "Not the decision maker",
        value={"reason": "no_authority", "notes": "Ada Lovelace decides; see lead 301"},
        request_only=True,
    ),
    OpenApiExample(
        "Lead disqualified",
        description="Score 0: no criterion is met and there was no engagement.",
        value={
            "id": 302,
            **_CHARLES,
            "score": 0,
            "deal": None,
            "became_lead_at": "2026-10-06T15:40:02.118734Z",
            "qualified_at": None,
            "disqualified_at": "2026-10-07T10:05:13.290551Z",
            "converted_at": None,
            "created_at": "2026-10-06T15:40:02.118734Z",
            "updated_at": "2026-10-07T10:05:13.290551Z",
        },
        response_only=True,
    ),
]


@extend_schema_view(create=extend_schema(examples=LEAD_CREATE_EXAMPLES))
class LeadViewSet(
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
        return Lead.objects.visible_to(self.request.user).prefetch_related("deal")

    @extend_schema(
        request=QualifySerializer, responses=LeadSerializer, examples=QUALIFY_EXAMPLES
    )
    @action(detail=True, methods=["post"])
    def qualify(self, request, pk=None):
        """Qualify the lead on its BANT criteria (409 unless lead or decided)."""
        lead = self.get_object()
        params = QualifySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lead = services.lead_qualify(
            lead=lead, by=request.user, **params.validated_data
        )
        return Response(self._fresh(lead))

    @extend_schema(
        request=DisqualifySerializer,
        responses=LeadSerializer,
        examples=DISQUALIFY_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def disqualify(self, request, pk=None):
        """Disqualify the lead with a reason from the fixed list."""
        lead = self.get_object()
        params = DisqualifySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lead = services.lead_disqualify(
            lead=lead, by=request.user, **params.validated_data
        )
        return Response(self._fresh(lead))

    @extend_schema(responses=QualificationSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def qualifications(self, request, pk=None):
        """Return the lead's qualification decisions, newest first."""
        lead = self.get_object()
        rows = lead.qualifications.order_by("-decided_at", "-pk")
        return Response(QualificationSerializer(rows, many=True).data)

    def _fresh(self, lead: Lead) -> dict:
        lead = self.get_queryset().get(pk=lead.pk)
        return LeadSerializer(lead, context=self.get_serializer_context()).data


class ContentOfferViewSet(
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
    """Per client address (anonymous callers), rate ``capture`` in settings."""

    def get_ident(self, request) -> str:
        # DRF trusts X-Forwarded-For when NUM_PROXIES is unset, which would let
        # a bot pick a new address per request; trust it only when configured.
        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR", "")
        return super().get_ident(request)


def client_ip(request) -> str | None:
    raw = CaptureThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


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

    @extend_schema(
        request=CaptureSerializer,
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
