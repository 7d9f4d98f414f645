"""API shapes of deals, their history, activities and the action inputs.

Stage, status and everything a transition sets are read-only here: they change
only through the actions, which call ``pipeline.services``.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.limits import MAX_ACTIVITY_SECONDS, validate_day
from crm.models import Company, Contact, User
from crm.serializers import (
    ConflictResponseSerializer,
    ModelSerializer,
    OwnedSerializer,
    VisiblePrimaryKeyRelatedField,
)
from leads.models import Lead
from pipeline.models import (
    Activity,
    ActivityKind,
    Deal,
    Direction,
    LostReason,
    Outcome,
    Stage,
    StageChange,
)


class DealSerializer(OwnedSerializer):
    company = VisiblePrimaryKeyRelatedField(
        queryset=Company.objects.all(), required=False, allow_null=True
    )
    contact = VisiblePrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    probability = serializers.IntegerField(
        min_value=0, max_value=100, required=False, allow_null=True
    )
    # Declared so that the schema documents "" (an open or won deal has none).
    lost_reason = serializers.ChoiceField(
        choices=LostReason.choices, allow_blank=True, read_only=True
    )
    # Annotated by ``DealQuerySet.with_staleness``; views always read deals
    # through it.
    is_stale = serializers.BooleanField(read_only=True)

    class Meta:
        model = Deal
        fields = [
            "id",
            "title",
            "owner",
            "company",
            "contact",
            "lead",
            "channel",
            "amount",
            "currency",
            "probability",
            "expected_close_on",
            "stage",
            "status",
            "lost_reason",
            "closed_at",
            "stage_entered_at",
            "is_stale",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "lead",
            "stage",
            "status",
            "lost_reason",
            "closed_at",
            "stage_entered_at",
            "version",
            "created_at",
            "updated_at",
        ]


class DealCreateSerializer(DealSerializer):
    """Creation may also choose the first stage (default ``prospection``)."""

    stage = serializers.ChoiceField(
        choices=Stage.choices, default=Stage.PROSPECTION, required=False
    )

    class Meta(DealSerializer.Meta):
        read_only_fields = [
            f for f in DealSerializer.Meta.read_only_fields if f != "stage"
        ]


class DealMoveSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)


class DealLoseSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=LostReason.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class DealReopenSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        required=False,
        help_text=_("Default: the stage the deal closed in."),
    )


class StageChangeSerializer(ModelSerializer):
    by = serializers.PrimaryKeyRelatedField(source="changed_by", read_only=True)
    at = serializers.DateTimeField(source="changed_at", read_only=True)

    class Meta:
        model = StageChange
        fields = ["from_stage", "to_stage", "from_status", "to_status", "by", "at"]
        read_only_fields = fields


class LeadConvertSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=200)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False
    )
    currency = serializers.CharField(required=False, min_length=3, max_length=3)
    expected_close_on = serializers.DateField(required=False, validators=[validate_day])
    stage = serializers.ChoiceField(
        choices=Stage.choices, default=Stage.PRESENTATION, required=False
    )


class ActivitySerializer(ModelSerializer):
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    direction = serializers.ChoiceField(
        choices=Direction.choices, default=Direction.OUTBOUND
    )
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, allow_blank=True, default=""
    )
    # A subject out of the caller's scope is "Invalid pk", like a missing one.
    lead = VisiblePrimaryKeyRelatedField(
        queryset=Lead.objects.all(), required=False, allow_null=True
    )
    contact = VisiblePrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    deal = VisiblePrimaryKeyRelatedField(
        queryset=Deal.objects.all(), required=False, allow_null=True
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False
    )

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "direction",
            "outcome",
            "is_cold_call",
            "done",
            "due_at",
            "occurred_at",
            "duration_seconds",
            "lead",
            "contact",
            "deal",
            "owner",
            "notes",
            "version",
        ]
        read_only_fields = ["is_cold_call"]
        extra_kwargs = {
            "occurred_at": {"required": False},
            "done": {"required": False},
        }


class ActivityCompleteSerializer(serializers.Serializer):
    """Body of ``complete/``: what happened, when (default: now)."""

    occurred_at = serializers.DateTimeField(required=False, validators=[validate_day])
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, allow_blank=True, default=""
    )
    duration_seconds = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_ACTIVITY_SECONDS,
    )
    notes = serializers.CharField(required=False, allow_blank=True)


class ActivityNotesSerializer(ModelSerializer):
    """An update of an activity: a log, so only its notes can be completed."""

    class Meta:
        model = Activity
        fields = ["notes"]


# --- documented error bodies (the format of crm.api_errors) ---------------------


class StaleDealResponseSerializer(ConflictResponseSerializer):
    current = DealSerializer(
        help_text=_("The deal as it is now: retry from its version.")
    )
