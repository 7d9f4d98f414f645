"""API shapes of leads, offers, qualifications and the public capture form."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.serializers import OwnedSerializer
from leads import services
from leads.models import (
    ConsentRecord,
    ContentOffer,
    DisqualificationReason,
    Lead,
    LeadStatus,
    Qualification,
)


class LeadSerializer(OwnedSerializer):
    """A prospect or lead. ``status`` is set once at creation (``prospect`` or
    ``lead``) and then only by the actions; ``score`` only by decisions."""

    # Every status appears in responses; a create accepts only the first two.
    status = serializers.ChoiceField(
        choices=LeadStatus.choices, default=LeadStatus.LEAD
    )
    deal = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "status",
            "first_name",
            "last_name",
            "email",
            "phone",
            "job_title",
            "company_name",
            "channel",
            "source",
            "offer",
            "owner",
            "score",
            "deal",
            "consent",
            "became_lead_at",
            "qualified_at",
            "disqualified_at",
            "converted_at",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = [
            "score",
            "became_lead_at",
            "qualified_at",
            "disqualified_at",
            "converted_at",
            "created_at",
            "updated_at",
        ]
        # The unique index on Lower(email) is checked in validate_email and by
        # the service; DRF cannot build a validator for an expression index.
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # After creation the status changes only through its actions, and
            # consent only through its records (consent/ action, double opt-in).
            fields["status"] = serializers.ChoiceField(
                choices=LeadStatus.choices, read_only=True
            )
            fields["consent"] = serializers.BooleanField(read_only=True)
        return fields

    def validate_status(self, value: str) -> str:
        if value not in services.CREATABLE:
            raise serializers.ValidationError(
                _(
                    "Create a 'prospect' or a 'lead'; other statuses are reached "
                    "through the qualify, disqualify and convert actions."
                ),
                code="invalid_choice",
            )
        return value

    def validate_email(self, value: str) -> str:
        value = value.strip()
        others = Lead.objects.with_email(value) if value else Lead.objects.none()
        if isinstance(self.instance, Lead):
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(
                _("A lead with this e-mail already exists.")
            )
        return value

    def create(self, validated_data):
        return services.lead_create(by=self.context["request"].user, **validated_data)


class ContentOfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentOffer
        fields = ["id", "title", "kind", "slug", "description", "active", "version"]


class QualificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Qualification
        fields = [
            "id",
            "decision",
            "budget",
            "authority",
            "need",
            "timeline",
            "score",
            "reason",
            "notes",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields


class ConsentRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "action",
            "recorded_at",
            "offer",
            "text",
            "recorded_by",
            "confirms",
        ]
        read_only_fields = fields


class ConsentInputSerializer(serializers.Serializer):
    """Body of ``consent/``: consent given or withdrawn through a user."""

    given = serializers.BooleanField()
    text = serializers.CharField(
        required=False,
        max_length=2000,
        help_text=_(
            "What the person agreed to or withdrew (default: the form's text)."
        ),
    )


class QualifySerializer(serializers.Serializer):
    """Body of ``qualify/``: the four BANT criteria, each stated explicitly."""

    budget = serializers.BooleanField()
    authority = serializers.BooleanField()
    need = serializers.BooleanField()
    timeline = serializers.BooleanField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class DisqualifySerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=DisqualificationReason.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class CaptureSerializer(serializers.Serializer):
    """The public capture form; ``website`` is a honeypot humans never see."""

    offer = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=ContentOffer.objects.filter(active=True),
        error_messages={
            "does_not_exist": _("No active content offer has this slug."),
            "invalid": _("Give the content offer's slug."),
        },
    )
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100, required=False, default="")
    email = serializers.EmailField(max_length=254)
    company = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    job_title = serializers.CharField(
        max_length=120, required=False, allow_blank=True, default=""
    )
    phone = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default=""
    )
    consent = serializers.BooleanField(required=False, default=False)
    website = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )


class CaptureResponseSerializer(serializers.Serializer):
    offer = serializers.CharField()
    content_url = serializers.CharField(allow_null=True)
