"""API shapes of leads, offers, qualifications and the public capture form."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.serializers import ModelSerializer, OwnedSerializer
from leads import import_jobs, services
from leads.models import (
    ConsentRecord,
    ContentOffer,
    DisqualificationReason,
    ImportModeChoice,
    Lead,
    LeadImport,
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
        if not isinstance(self.instance, Lead):
            # A new lead's duplicate is refused by the unique index, with the
            # same message (``lead_create``): no query on the common path.
            return value
        others = Lead.objects.with_email(value) if value else Lead.objects.none()
        if others.exclude(pk=self.instance.pk).exists():
            raise serializers.ValidationError(
                _("A lead with this e-mail already exists.")
            )
        return value

    def create(self, validated_data):
        lead = services.lead_create(by=self.context["request"].user, **validated_data)
        # A lead created now has no deal: the answer need not ask for it.
        Lead._meta.get_field("deal").set_cached_value(lead, None)
        return lead


class ContentOfferSerializer(ModelSerializer):
    class Meta:
        model = ContentOffer
        fields = ["id", "title", "kind", "slug", "description", "active", "version"]


class QualificationSerializer(ModelSerializer):
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


class ConsentRecordSerializer(ModelSerializer):
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

    # The active offer of this slug (``ContentOffer.active_by_slug``, cached).
    offer = serializers.SlugField(
        max_length=80, error_messages={"invalid": _("Give the content offer's slug.")}
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

    def validate_offer(self, value: str) -> ContentOffer:
        offer = ContentOffer.active_by_slug(value)
        if offer is None:
            raise serializers.ValidationError(
                _("No active content offer has this slug.")
            )
        return offer


class CaptureResponseSerializer(serializers.Serializer):
    offer = serializers.CharField()
    content_url = serializers.CharField(allow_null=True)


class ImportUploadSerializer(serializers.Serializer):
    """A CSV of prospects and leads to import in the background."""

    file = serializers.FileField(
        help_text=_("UTF-8 CSV with a header row (columns: docs/leads.md).")
    )
    mode = serializers.ChoiceField(
        choices=ImportModeChoice.choices,
        default=ImportModeChoice.ALL_OR_NOTHING,
        help_text=_(
            "all-or-nothing: any bad row cancels the import; "
            "keep-valid: the good rows are saved and the others reported."
        ),
    )


class RejectedRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class ImportProgressSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text=_("Rows read so far."))
    created = serializers.IntegerField()
    merged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rate = serializers.FloatField(help_text=_("Rows read per second."))


class LeadImportSerializer(ModelSerializer):
    """An import: its progress while it runs, its report once it is done.

    ``rejected_rows`` lists the first 1,000 rejected rows with their reasons.
    """

    progress = serializers.SerializerMethodField()
    rejected_rows = RejectedRowSerializer(source="rejected", many=True, read_only=True)

    class Meta:
        model = LeadImport
        fields = [
            "id",
            "filename",
            "size",
            "mode",
            "status",
            "saved",
            "progress",
            "rejected_rows",
            "error",
            "attempts",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportProgressSerializer)
    def get_progress(self, job: LeadImport) -> dict:
        return import_jobs.progress(job)
