import datetime
from typing import ClassVar

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import idempotency, policy, services
from crm.api_examples import (
    SUBSCRIPTION_CHANGE_EXAMPLES,
    SUBSCRIPTION_END_EXAMPLES,
    SUBSCRIPTION_EXAMPLES,
    TOKEN_EXAMPLES,
    WEBHOOK_EXAMPLES,
)
from crm.api_versioning import (
    IF_MATCH,
    VersionedViewSetMixin,
    created_headers,
    expected_version,
    versioned_schema,
)
from crm.authentication import TokenAuthentication
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
    SecretRotatedSerializer,
    SecretRotationSerializer,
    SubscriptionChangeSerializer,
    SubscriptionEndSerializer,
    SubscriptionSerializer,
    TeamSerializer,
    UserSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    stale_response_serializer,
)


class SchemaView(SpectacularAPIView):
    """The OpenAPI document, generated and rendered once per process, version,
    language and format.

    It changes only with the code (it is public: no part depends on the caller),
    and generating and rendering it take seconds.
    """

    _schemas: ClassVar[dict[tuple, dict]] = {}
    _rendered: ClassVar[dict[tuple, tuple[bytes, str]]] = {}

    def _schema(self, request, version) -> dict:
        key = (version, translation.get_language())
        if key not in self._schemas:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            self._schemas[key] = generator.get_schema(
                request=request, public=self.serve_public
            )
        return self._schemas[key]

    def _get_schema_response(self, request):
        version = (
            self.api_version or request.version or self._get_version_parameter(request)
        )
        renderer = request.accepted_renderer
        key = (version, translation.get_language(), renderer.format)
        if key not in self._rendered:
            schema = self._schema(request, version)
            content_type = request.accepted_media_type
            if renderer.charset:
                content_type = f"{content_type}; charset={renderer.charset}"
            content = renderer.render(
                schema, request.accepted_media_type, self.get_renderer_context()
            )
            self._rendered[key] = (content, content_type)
        content, content_type = self._rendered[key]
        response = HttpResponse(content, content_type=content_type)
        filename = self._get_filename(request, version)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(
        style={"input_type": "password"}, trim_whitespace=False
    )

    def validate(self, attrs):
        request = self.context.get("request")
        user = authenticate(
            request=request, username=attrs["username"], password=attrs["password"]
        )
        if user is None and getattr(request, "axes_locked_out", False):
            # django-axes refused before checking the password (see settings).
            raise exceptions.Throttled(
                wait=settings.AXES_COOLOFF_TIME.total_seconds(),
                # DRF joins it with its own "Expected available in…": a str.
                detail=str(
                    _(
                        "Too many failed logins for this account or address: "
                        "try again later."
                    )
                ),
            )
        if user is None:
            raise serializers.ValidationError(
                _("Unable to log in with these credentials.")
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

    authentication_classes = [TokenAuthentication]

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


# Deleting what other records refer to answers 409 with what refers to it.


@versioned_schema(CompanySerializer, delete_may_conflict=True)
class CompanyViewSet(VersionedViewSetMixin, CsvExportMixin, viewsets.ModelViewSet):
    queryset = Company.objects.none()  # the schema's model; rows come from get_queryset
    serializer_class = CompanySerializer
    permission_classes = [CanChangeOrReadOnly]
    filterset_class = CompanyFilter
    search_fields = ["name", "domain"]
    ordering_fields = ["name", "created_at", "employees"]
    ordering = ["name"]

    def get_queryset(self):
        return Company.objects.visible_to(self.request.user)

    def perform_versioned_update(self, instance, changes):
        return services.company_update(
            company=instance,
            changes=changes,
            expected_version=expected_version(self.request),
        )

    def perform_destroy(self, instance):
        services.address_book_delete(
            record=instance,
            by=self.request.user,
            expected_version=expected_version(self.request),
        )


@versioned_schema(ContactSerializer, delete_may_conflict=True)
class ContactViewSet(VersionedViewSetMixin, CsvExportMixin, viewsets.ModelViewSet):
    queryset = Contact.objects.none()  # the schema's model; rows come from get_queryset
    serializer_class = ContactSerializer
    permission_classes = [CanChangeOrReadOnly]
    filterset_class = ContactFilter
    search_fields = ["first_name", "last_name", "email"]
    ordering_fields = ["last_name", "created_at"]
    ordering = ["last_name", "first_name"]

    def get_queryset(self):
        return Contact.objects.visible_to(self.request.user)

    def perform_destroy(self, instance):
        services.address_book_delete(
            record=instance,
            by=self.request.user,
            expected_version=expected_version(self.request),
        )


@versioned_schema(SubscriptionSerializer)
@extend_schema_view(create=extend_schema(examples=SUBSCRIPTION_EXAMPLES))
class SubscriptionViewSet(
    VersionedViewSetMixin,
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

    def perform_create(self, serializer):
        serializer.instance = services.subscription_start(
            by=self.request.user, **serializer.validated_data
        )

    def perform_versioned_update(self, instance, changes):
        # A new start day moves the MRR ledger: the service posts it again.
        # Plan and MRR were refused unless unchanged; company and currency
        # are read-only, so nothing else is left to write.
        started_on = changes.pop("started_on", None)
        if started_on is not None and started_on != instance.started_on:
            return services.subscription_update(
                subscription=instance,
                by=self.request.user,
                started_on=started_on,
                expected_version=expected_version(self.request),
            )
        return super().perform_versioned_update(instance, changes)

    @extend_schema(
        request=SubscriptionChangeSerializer,
        responses={
            201: SubscriptionSerializer,
            200: SubscriptionSerializer,
            412: stale_response_serializer(SubscriptionSerializer),
        },
        parameters=[IF_MATCH],
        examples=SUBSCRIPTION_CHANGE_EXAMPLES,
    )
    @action(detail=True, methods=["post"])
    def change(self, request, pk=None):
        """Change the plan and MRR from a day on (an upgrade or a downgrade).

        The subscription ends that day and its successor with the new terms is
        returned (201); a change effective on the first day amends it (200).
        """
        subscription = self.get_object()
        params = SubscriptionChangeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        successor = services.subscription_change(
            subscription=subscription,
            by=request.user,
            expected_version=expected_version(request),
            **params.validated_data,
        )
        return self.versioned_response(
            successor,
            status.HTTP_200_OK
            if successor.pk == subscription.pk
            else status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=SubscriptionEndSerializer,
        responses={
            200: SubscriptionSerializer,
            412: stale_response_serializer(SubscriptionSerializer),
        },
        parameters=[IF_MATCH],
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
            expected_version=expected_version(request),
        )
        return self.versioned_response(subscription)


@versioned_schema(WebhookEndpointSerializer)
class WebhookEndpointViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Webhook subscriptions: an integration manages its own, admins all."""

    queryset = WebhookEndpoint.objects.none()  # the schema's model; see get_queryset
    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsAdminOrIntegration]
    filterset_fields = ["active"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return policy.visible(self.request.user, WebhookEndpoint.objects.order_by("pk"))

    @extend_schema(
        responses={201: WebhookEndpointCreatedSerializer}, examples=WEBHOOK_EXAMPLES
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save()
        response = Response(
            WebhookEndpointCreatedSerializer(endpoint).data,
            status=status.HTTP_201_CREATED,
            headers=created_headers(request, endpoint, self.basename),
        )
        # The secret is shown once: an Idempotency-Key replay answers without it.
        return idempotency.redact(response, "secret")

    @extend_schema(request=SecretRotationSerializer, responses=SecretRotatedSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """Replace the signing secret; the previous one stays valid for a while."""
        endpoint = self.get_object()
        params = SecretRotationSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        hours = params.validated_data.get("grace_hours")
        endpoint = services.webhook_secret_rotate(
            endpoint=endpoint,
            by=request.user,
            secret=params.validated_data.get("secret"),
            grace=(
                services.WEBHOOK_SECRET_GRACE
                if hours is None
                else datetime.timedelta(hours=hours)
            ),
        )
        return Response(SecretRotatedSerializer(endpoint).data)

    @extend_schema(responses=DeliveryAttemptSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def attempts(self, request, pk=None):
        """Delivery attempts to this endpoint, newest first, paginated as lists are."""
        endpoint = self.get_object()
        attempts = (
            DeliveryAttempt.objects.filter(delivery__endpoint=endpoint)
            .select_related("delivery__event")
            .order_by("-attempted_at", "-pk")
        )
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(
            DeliveryAttemptSerializer(page, many=True).data
        )
