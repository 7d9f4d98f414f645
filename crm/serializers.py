from __future__ import annotations

import copy
import functools
import secrets

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from crm import egress, policy
from crm.models import (
    Company,
    Contact,
    DeliveryAttempt,
    Subscription,
    Team,
    User,
    WebhookEndpoint,
    WebhookEventType,
)


class VisiblePrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id that must be in the caller's scope (``visible_to``).

    An id out of scope gets the same "Invalid pk" message as a missing one.
    """

    def get_queryset(self):
        request = self.context.get("request")
        return super().get_queryset().visible_to(getattr(request, "user", None))


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ``ModelSerializer`` with its fields built once per class.

    DRF introspects the model again for every serializer it creates: about a
    millisecond each, twice per write (the input, then the answer), a quarter
    of a lead create (docs/benchmarks.md). What it builds depends on the class
    alone, so it is built once and each serializer gets a copy, as DRF copies
    the declared fields (encode/django-rest-framework#7093). A subclass that
    shapes its fields per request (by ``instance`` or caller) does so in its
    own ``get_fields``, on the copy.
    """

    def get_fields(self):
        cls = type(self)
        # On the class itself, never inherited: a subclass has fields of its own.
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return copy.deepcopy(built)


class OwnedSerializer(ModelSerializer):
    """A record with an ``owner``: it defaults to the caller, who may only pick
    someone in their own scope (a rep: themselves; a manager: their team)."""

    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False
    )

    def validate_owner(self, owner: User) -> User:
        if not policy.may_assign(self.context["request"].user, owner):
            raise serializers.ValidationError(
                _("You cannot assign a record to this user.")
            )
        return owner

    def create(self, validated_data):
        validated_data.setdefault("owner", self.context["request"].user)
        return super().create(validated_data)


class UserSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "role", "team"]
        read_only_fields = fields


class TeamSerializer(ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "manager", "members", "handles_inbound"]
        read_only_fields = fields


class ModelRulesMixin:
    # Applies the model's own rules: ``clean`` (normalisation and cross-field
    # checks) and its constraints, as the admin's forms do, so both agree. The
    # normalised values (a domain without ``www.``, an upper-case currency) are
    # what gets saved. Constraints are checked only when the request names one
    # of their fields (the unique index still decides races). A comment, not a
    # docstring: the schema would show it as every serializer's description.

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance else model()
        for name, value in attrs.items():
            setattr(instance, name, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                serializers.as_serializer_error(exc)
            ) from exc
        exclude = {f.name for f in model._meta.concrete_fields} - set(attrs)
        for constraint in model._meta.constraints:
            try:
                constraint.validate(model, instance, exclude=exclude)
            except DjangoValidationError as exc:
                field = (
                    _constraint_field(constraint) or api_settings.NON_FIELD_ERRORS_KEY
                )
                raise serializers.ValidationError({field: exc.messages}) from exc
        return {name: getattr(instance, name) for name in attrs}


def _constraint_field(constraint) -> str | None:
    """Return the one field a constraint is about (``Lower("domain")``), if any."""
    names = list(getattr(constraint, "fields", ()))
    for expression in getattr(constraint, "expressions", ()):
        names += [ref.name for ref in expression.flatten() if isinstance(ref, F)]
    return names[0] if len(names) == 1 else None


class CompanySerializer(ModelRulesMixin, OwnedSerializer):
    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "domain",
            "industry",
            "employees",
            "country",
            "owner",
            "version",
        ]


class ContactSerializer(ModelRulesMixin, OwnedSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "job_title",
            "company",
            "owner",
            "version",
        ]


class SubscriptionSerializer(ModelRulesMixin, ModelSerializer):
    mrr = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)

    # Terms with history: changing them is an action, not an edit.
    CHANGED_BY_ACTION = {"mrr": "change", "plan": "change"}

    class Meta:
        model = Subscription
        fields = [
            "id",
            "company",
            "plan",
            "mrr",
            "currency",
            "started_on",
            "ended_on",
            "churn_reason",
            "replaces",
            "version",
        ]
        read_only_fields = ["replaces"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # A customer's subscriptions never move to another company or
            # currency (the MRR ledger is per customer and currency).
            for name in ("company", "currency"):
                fields[name].read_only = True
        return fields

    def validate_company(self, company: Company) -> Company:
        if not policy.may_change(self.context["request"].user, company):
            raise serializers.ValidationError(
                _("You can only add subscriptions to companies in your scope.")
            )
        return company

    def validate(self, attrs):
        # Ending is an explicit action (``end/``) that records who and when and
        # tells the webhooks; a create or an update may only repeat what is.
        errors = {}
        for name in ("ended_on", "churn_reason"):
            if name not in attrs:
                continue
            value = attrs.pop(name)
            current = getattr(self.instance, name, None)
            if (value or None) != (current or None):
                errors[name] = _(
                    "A subscription ends only through its end action "
                    "(POST subscriptions/{id}/end/)."
                )
        # Terms with history change through the change action, not an edit.
        if self.instance is not None:
            errors.update(
                {
                    name: f"Use POST /api/v1/subscriptions/{self.instance.pk}/"
                    f"{action}/ to change the plan or MRR from a given day."
                    for name, action in self.CHANGED_BY_ACTION.items()
                    if name in attrs and attrs[name] != getattr(self.instance, name)
                }
            )
        ended = getattr(self.instance, "ended_on", None)
        if ended and attrs.get("started_on") and attrs["started_on"] > ended:
            errors["started_on"] = (
                f"A subscription cannot start after it ended ({ended.isoformat()})."
            )
        if errors:
            raise serializers.ValidationError(errors)
        # Then the model's own rules (ModelRulesMixin: currency, dates).
        return super().validate(attrs)


class SubscriptionEndSerializer(serializers.Serializer):
    ended_on = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)


class SubscriptionChangeSerializer(serializers.Serializer):
    plan = serializers.CharField(max_length=100)
    mrr = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    effective_on = serializers.DateField(
        required=False,
        help_text=_("Default today; never before the start or after the end."),
    )


class WebhookEndpointSerializer(ModelSerializer):
    events = serializers.MultipleChoiceField(
        choices=WebhookEventType.choices, allow_empty=False
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=128,
        help_text=_(
            "Signing key; generated when omitted and returned once on creation."
        ),
    )
    is_failing = serializers.BooleanField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "secret",
            "active",
            "is_failing",
            "consecutive_failures",
            "created_at",
            "version",
        ]
        read_only_fields = ["consecutive_failures", "created_at"]

    def validate_url(self, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise serializers.ValidationError(_("Use an http(s) URL."))
        egress.validate_destination(value)  # public addresses only
        return value

    def validate_secret(self, value: str) -> str:
        if self.instance is not None:
            # Replacing the key at once would make every delivery in flight
            # fail verification: a rotation keeps both valid for a while.
            raise serializers.ValidationError(
                _("Rotate the secret with POST /api/v1/webhooks/{id}/rotate-secret/.")
            )
        return value

    def validate_events(self, value) -> list[str]:
        return sorted(value)

    def create(self, validated_data):
        validated_data.setdefault("secret", secrets.token_hex(32))
        validated_data["created_by"] = self.context["request"].user
        return super().create(validated_data)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["events"] = sorted(data["events"])
        return data


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The creation response: the only time the secret is shown."""

    # Output only, yet not read_only: the schema would then list it as always
    # present, and an Idempotency-Key replay of the creation answers without it.
    secret = serializers.CharField(
        required=False,
        help_text=_(
            "The signing key, shown once: absent when the answer is an "
            "Idempotency-Key replay."
        ),
    )


class SecretRotationSerializer(serializers.Serializer):
    secret = serializers.CharField(
        required=False,
        min_length=16,
        max_length=128,
        help_text=_("The new signing key; generated when omitted."),
    )
    grace_hours = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=168,
        help_text=_("How long the previous secret keeps signing (default 24)."),
    )


class SecretRotatedSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text=_("The new secret, shown this once."))
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


class DeliveryAttemptSerializer(ModelSerializer):
    event_type = serializers.CharField(source="delivery.event.event_type")
    event_id = serializers.IntegerField(source="delivery.event_id")

    class Meta:
        model = DeliveryAttempt
        fields = [
            "event_id",
            "event_type",
            "attempted_at",
            "status_code",
            "duration_ms",
            "error",
        ]


# --- documented error bodies (the format of crm.api_errors) ---------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ConflictResponseSerializer(serializers.Serializer):
    """The 409 of a domain action the record's state forbids (``Conflict``)."""

    type = serializers.CharField()
    errors = ErrorDetailSerializer(many=True)


class RefusalResponseSerializer(serializers.Serializer):
    """A refusal (4xx) whose message says what to do instead."""

    type = serializers.CharField()
    errors = ErrorDetailSerializer(many=True)


@functools.cache
def stale_response_serializer(serializer_class: type[serializers.Serializer]):
    """Return the shape of a 412: the error plus the record as it is now."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return type(
        f"Stale{name}ResponseSerializer",
        (ConflictResponseSerializer,),
        {
            "__module__": __name__,
            "current": serializer_class(
                help_text=_("The record as it is now: retry from its version.")
            ),
        },
    )
