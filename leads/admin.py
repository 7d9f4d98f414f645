"""Admin of prospects, leads, content offers and touches.

Every change of status goes through ``leads.services`` (the actions below, with a
small intermediate form); the admin only translates forms and reports errors as
messages. ``pipeline.admin`` re-registers ``LeadAdmin`` with its "convert"
action, so ``actions`` stays a list.
"""

from __future__ import annotations

import io

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from crm.admin import SalesModelAdmin
from crm.errors import Conflict
from crm.models import User
from crm.visibility import assignable_owners_scope
from leads import services
from leads.importing import ImportMode, leads_import
from leads.models import (
    ContentOffer,
    DisqualificationReason,
    Lead,
    LeadStatus,
    Prospect,
    Qualification,
    Touch,
)

# Fields only a service sets: status (actions), score (decisions), timestamps.
SERVICE_FIELDS = [
    "status",
    "score",
    "became_lead_at",
    "qualified_at",
    "disqualified_at",
    "converted_at",
    "touch_count",
    "activity_count",
    "first_activity_at",
    "last_activity_at",
    "created_at",
    "updated_at",
]
CREATE_FIELDS = [
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
    "consent",
]


class QualificationInline(admin.TabularInline):
    """The history of decisions: read-only, newest first."""

    model = Qualification
    extra = 0
    can_delete = False
    fields = [
        "decided_at",
        "decision",
        "budget",
        "authority",
        "need",
        "timeline",
        "score",
        "reason",
        "notes",
        "decided_by",
    ]
    readonly_fields = fields
    ordering = ["-decided_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # The parent admin already scoped the lead to the user.
        return True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("decided_by")


class QualifyForm(forms.Form):
    budget = forms.BooleanField(required=False)
    authority = forms.BooleanField(required=False)
    need = forms.BooleanField(required=False)
    timeline = forms.BooleanField(required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DisqualifyForm(forms.Form):
    reason = forms.ChoiceField(choices=DisqualificationReason.choices)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=User.objects.none())

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(
            assignable_owners_scope(user)
        ).order_by("username")


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, with a header row.")
    mode = forms.ChoiceField(
        choices=[
            (ImportMode.ALL_OR_NOTHING.value, "All or nothing: any bad row cancels"),
            (ImportMode.KEEP_VALID.value, "Keep the valid rows, report the others"),
        ]
    )


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc)


@admin.register(Lead)
class LeadAdmin(SalesModelAdmin):
    list_display = [
        "__str__",
        "email",
        "company_name",
        "status",
        "channel",
        "source",
        "score",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "channel", "source", "offer", "owner__team"]
    list_select_related = ["owner", "offer"]
    search_fields = ["first_name", "last_name", "email", "company_name"]
    autocomplete_fields = ["owner", "offer"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    readonly_fields = SERVICE_FIELDS
    inlines = [QualificationInline]
    actions = ["promote", "qualify", "disqualify", "reassign"]
    change_list_template = "admin/leads/lead/change_list.html"
    # Status of records added through this admin.
    create_status = LeadStatus.LEAD

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="{}_{}_import".format(*info),
            ),
            *super().get_urls(),
        ]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        lead = services.lead_create(
            by=request.user,
            status=self.create_status,
            **{name: form.cleaned_data.get(name) for name in CREATE_FIELDS},
        )
        obj.pk = lead.pk
        obj.refresh_from_db()

    # --- actions, each with a small intermediate form -------------------------

    def _action_form(self, request, queryset, *, action, form, title, apply):
        """Show ``form`` for the selected rows; on submit, ``apply`` each one."""
        if "apply" in request.POST and form.is_valid():
            done = 0
            for lead in queryset.select_related("owner"):
                try:
                    apply(lead, form.cleaned_data)
                    done += 1
                except (Conflict, ValidationError, PermissionDenied) as exc:
                    self.message_user(
                        request, f"{lead}: {_error_text(exc)}", messages.WARNING
                    )
            self.message_user(request, f"{title}: {done} record(s).")
            return None
        return TemplateResponse(
            request,
            "admin/leads/lead/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": action,
            },
        )

    @admin.action(description="Promote selected prospects to leads")
    def promote(self, request, queryset):
        done = 0
        for lead in queryset:
            try:
                services.lead_promote(lead=lead, by=request.user)
                done += 1
            except Conflict as exc:
                self.message_user(
                    request, f"{lead}: {_error_text(exc)}", messages.WARNING
                )
        self.message_user(request, f"Promoted {done} prospect(s) to leads.")

    @admin.action(description="Qualify selected leads (BANT form)")
    def qualify(self, request, queryset):
        return self._action_form(
            request,
            queryset,
            action="qualify",
            form=QualifyForm(request.POST if "apply" in request.POST else None),
            title="Qualify leads",
            apply=lambda lead, data: services.lead_qualify(
                lead=lead, by=request.user, **data
            ),
        )

    @admin.action(description="Disqualify selected leads (with a reason)")
    def disqualify(self, request, queryset):
        return self._action_form(
            request,
            queryset,
            action="disqualify",
            form=DisqualifyForm(request.POST if "apply" in request.POST else None),
            title="Disqualify leads",
            apply=lambda lead, data: services.lead_disqualify(
                lead=lead, by=request.user, **data
            ),
        )

    @admin.action(description="Reassign selected records to another owner")
    def reassign(self, request, queryset):
        return self._action_form(
            request,
            queryset,
            action="reassign",
            form=ReassignForm(
                request.POST if "apply" in request.POST else None, user=request.user
            ),
            title="Reassign records",
            apply=lambda lead, data: services.lead_reassign(
                lead=lead, to=data["owner"], by=request.user
            ),
        )

    # --- CSV upload -----------------------------------------------------------

    def import_view(self, request):
        """Upload a CSV of prospects and leads; show the import report."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        report = None
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                text = upload.read().decode("utf-8-sig")
                report = leads_import(
                    file=io.StringIO(text, newline=""),
                    by=request.user,
                    mode=ImportMode(form.cleaned_data["mode"]),
                )
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text.")
            except ValidationError as exc:
                form.add_error("file", exc)
            if report is not None and report.saved and not report.rejected:
                self.message_user(request, report.summary())
                return HttpResponseRedirect(
                    reverse(
                        f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"
                    )
                )
        return TemplateResponse(
            request,
            "admin/leads/lead/import.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Import prospects and leads",
                "form": form,
                "report": report,
            },
        )


@admin.register(Prospect)
class ProspectAdmin(LeadAdmin):
    """The same records, only those still prospects (outbound lists, contacts)."""

    list_display = [
        "__str__",
        "email",
        "company_name",
        "channel",
        "source",
        "owner",
        "created_at",
    ]
    list_filter = ["channel", "source", "owner__team"]
    inlines = []
    actions = ["promote", "reassign"]
    create_status = LeadStatus.PROSPECT

    def get_queryset(self, request):
        return super().get_queryset(request).prospects()


@admin.register(ContentOffer)
class ContentOfferAdmin(SalesModelAdmin):
    owner_field = None
    list_display = ["title", "kind", "slug", "active", "created_at"]
    list_filter = ["kind", "active"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return ContentOffer.objects.order_by("title")

    def _can_edit(self, request) -> bool:
        user = request.user
        return self._is_sales_staff(request) and (
            user.sees_everything or user.role == "manager"
        )

    def has_add_permission(self, request) -> bool:
        return self._can_edit(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._can_edit(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(Touch)
class TouchAdmin(SalesModelAdmin):
    """Touches are recorded by the capture service: read-only here."""

    owner_field = None
    list_display = ["lead", "offer", "source", "occurred_at", "ip_address"]
    list_filter = ["source", "channel", "offer"]
    list_select_related = ["lead", "offer"]
    search_fields = ["lead__email", "lead__last_name"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at"]

    def get_queryset(self, request):
        visible = Lead.objects.visible_to(request.user)
        return Touch.objects.filter(lead__in=visible).order_by("-occurred_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
