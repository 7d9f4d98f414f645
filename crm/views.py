from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import services
from crm.export import CsvExportMixin
from crm.filters import CompanyFilter, ContactFilter, SubscriptionFilter
from crm.models import (
    Company,
    Contact,
    DeliveryAttempt,
    Subscription,
    Team,
    WebhookEndpoint,
)
from crm.permissions import CanChangeOrReadOnly, IsAdminOrIntegration, IsSalesUser
from crm.serializers import (
    CompanySerializer,
    ContactSerializer,
    DeliveryAttemptSerializer,
    SubscriptionEndSerializer,
    SubscriptionSerializer,
    TeamSerializer,
    UserSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
)

# The integrator's story of docs/api.md: the "integration" user gets a token,
# registers a webhook, and billing records the subscription of the customer won
# (company 46, Analytical Engines).
TOKEN_EXAMPLES = [
    OpenApiExample(
        "Integration user logs in",
        value={"username": "integration", "password": "demo-pass-2026"},
        request_only=True,
    ),
    OpenApiExample(
        "Token issued",
        value={
            "token": "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f7",
            "expiry": "2026-10-06T07:58:12.417305Z",
        },
        response_only=True,
    ),
]

SUBSCRIPTION_EXAMPLES = [
    OpenApiExample(
        "Customer starts a plan",
        value={
            "company": 46,
            "plan": "Growth annual",
            "mrr": "1000.00",
            "currency": "EUR",
            "started_on": "2026-12-01",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Subscription running",
        value={
            "id": 87,
            "company": 46,
            "plan": "Growth annual",
            "mrr": "1000.00",
            "currency": "EUR",
            "started_on": "2026-12-01",
            "ended_on": None,
            "churn_reason": "",
        },
        response_only=True,
    ),
]

SUBSCRIPTION_END_EXAMPLES = [
    OpenApiExample(
        "Customer leaves",
        value={"ended_on": "2027-11-30", "reason": "Moved to an in-house tool"},
        request_only=True,
    ),
    OpenApiExample(
        "Subscription ended",
        value={
            "id": 87,
            "company": 46,
            "plan": "Growth annual",
            "mrr": "1000.00",
            "currency": "EUR",
            "started_on": "2026-12-01",
            "ended_on": "2027-11-30",
            "churn_reason": "Moved to an in-house tool",
        },
        response_only=True,
    ),
]

WEBHOOK_EXAMPLES = [
    OpenApiExample(
        "Follow the pipeline",
        description="Without ``secret``, one is generated and shown once, below.",
        value={
            "url": "https://crm-hooks.example.com/in",
            "events": ["deal.stage_changed", "deal.won"],
        },
        request_only=True,
    ),
    OpenApiExample(
        "Endpoint registered",
        value={
            "id": 1,
            "url": "https://crm-hooks.example.com/in",
            "events": ["deal.stage_changed", "deal.won"],
            "secret": "bd7519d93c0e4f6a8b2d1e7f5a9c3b6d"
            "0e8f2a4c6b1d3e5f7a9b0c2d4e6f8a1b",
            "active": True,
            "is_failing": False,
            "consecutive_failures": 0,
            "created_at": "2026-10-05T08:03:41.220914Z",
        },
        response_only=True,
        status_codes=[201],
    ),
]


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(
        style={"input_type": "password"}, trim_whitespace=False
    )

    def validate(self, attrs):
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None:
            raise serializers.ValidationError(
                "Unable to log in with these credentials."
            )
        attrs["user"] = user
        return attrs


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class TokenLoginView(KnoxLoginView):
    """Exchange a username and password for an API token (stored hashed)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenLoginSerializer,
        responses=TokenResponseSerializer,
        examples=TOKEN_EXAMPLES,
    )
    def post(self, request, format=None):
        serializer = TokenLoginSerializer(
            data=request.data, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        request.user = serializer.validated_data["user"]
        return super().post(request, format=format)


class TokenLogoutView(KnoxLogoutView):
    """Revoke the token used for this request."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class MeView(APIView):
    permission_classes = [IsSalesUser]

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TeamSerializer
    permission_classes = [IsSalesUser]
    search_fields = ["name"]
    ordering_fields = ["name"]
    filterset_fields = ["manager", "handles_inbound"]

    def get_queryset(self):
        return Team.objects.prefetch_related("members").order_by("name")


class CompanyViewSet(CsvExportMixin, viewsets.ModelViewSet):
    queryset = Company.objects.none()  # the schema's model; rows come from get_queryset
    serializer_class = CompanySerializer
    permission_classes = [CanChangeOrReadOnly]
    filterset_class = CompanyFilter
    search_fields = ["name", "domain"]
    ordering_fields = ["name", "created_at", "employees"]
    ordering = ["name"]

    def get_queryset(self):
        return Company.objects.visible_to(self.request.user)


class ContactViewSet(CsvExportMixin, viewsets.ModelViewSet):
    queryset = Contact.objects.none()  # the schema's model; rows come from get_queryset
    serializer_class = ContactSerializer
    permission_classes = [CanChangeOrReadOnly]
    filterset_class = ContactFilter
    search_fields = ["first_name", "last_name", "email"]
    ordering_fields = ["last_name", "created_at"]
    ordering = ["last_name", "first_name"]

    def get_queryset(self):
        return Contact.objects.visible_to(self.request.user)


@extend_schema_view(create=extend_schema(examples=SUBSCRIPTION_EXAMPLES))
class SubscriptionViewSet(
    CsvExportMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Subscriptions are never deleted: churn history is what KPIs are made of."""

    queryset = (
        Subscription.objects.none()
    )  # the schema's model; rows come from get_queryset
    serializer_class = SubscriptionSerializer
    permission_classes = [IsSalesUser]
    filterset_class = SubscriptionFilter
    search_fields = ["plan", "company__name"]
    ordering_fields = ["started_on", "ended_on", "mrr"]
    ordering = ["-started_on"]

    def get_queryset(self):
        return Subscription.objects.visible_to(self.request.user)

    @extend_schema(
        request=SubscriptionEndSerializer,
        responses=SubscriptionSerializer,
        examples=SUBSCRIPTION_END_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """End the subscription (the customer churns unless another one runs)."""
        subscription = self.get_object()
        params = SubscriptionEndSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        subscription = services.subscription_end(
            subscription=subscription,
            by=request.user,
            ended_on=params.validated_data.get("ended_on"),
            reason=params.validated_data.get("reason", ""),
        )
        return Response(
            SubscriptionSerializer(subscription).data, status=status.HTTP_200_OK
        )


class WebhookEndpointViewSet(viewsets.ModelViewSet):
    """Webhook subscriptions of integrations (admins and integration users)."""

    queryset = WebhookEndpoint.objects.order_by("pk")
    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsAdminOrIntegration]
    filterset_fields = ["active"]
    ordering_fields = ["created_at"]

    @extend_schema(
        responses={201: WebhookEndpointCreatedSerializer}, examples=WEBHOOK_EXAMPLES
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save()
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses=DeliveryAttemptSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def attempts(self, request, pk=None):
        """The 100 latest delivery attempts to this endpoint, newest first."""
        endpoint = self.get_object()
        attempts = (
            DeliveryAttempt.objects.filter(delivery__endpoint=endpoint)
            .select_related("delivery__event")
            .order_by("-attempted_at")[:100]
        )
        return Response(DeliveryAttemptSerializer(attempts, many=True).data)
