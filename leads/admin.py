"""Admin of prospects, leads, content offers and touches.

Every change of status goes through ``leads.services`` (the actions below, with a
small intermediate form); the admin only translates forms, and reports refusals
as form errors (``crm.admin_services``) or messages. ``pipeline.admin``
re-registers ``LeadAdmin`` with its "convert" action, so ``actions`` stays a
list.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from crm import formatting, policy
from crm.admin import SalesModelAdmin
from crm.admin_services import (
    ServiceAdminMixin,
    changed_fields,
    run_on_each,
    selection_context,
)
from crm.models import User
from crm.uploads import limit_upload
from leads import import_jobs, services
from leads.importing import ImportMode
from leads.models import (
    ConsentAction,
    ConsentRecord,
    ContentOffer,
    DisqualificationReason,
    ImportStatus,
    Lead,
    LeadImport,
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
    "first_response_at",
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


class ConsentRecordInline(admin.TabularInline):
    """Consent evidence: append-only, recorded by the services."""

    model = ConsentRecord
    fk_name = "lead"
    extra = 0
    can_delete = False
    fields = [
        "recorded_at",
        "action",
        "offer",
        "text",
        "recorded_by",
        "confirms",
        "email_sent",
    ]
    readonly_fields = fields
    ordering = ["-recorded_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("offer", "email")

    @admin.display(description=_("confirmation e-mail"))
    def email_sent(self, record) -> str:
        """When the double opt-in e-mail went (a job: it may still be queued)."""
        if record.action != ConsentAction.REQUESTED:
            return ""
        sent = getattr(record, "email", None)
        if sent is None:
            return str(_("not sent yet"))
        return formatting.moment(sent.sent_at)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return True  # the parent admin already scoped the lead to the user


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
    budget = forms.BooleanField(required=False, label=_("Budget"))
    authority = forms.BooleanField(required=False, label=_("Authority"))
    need = forms.BooleanField(required=False, label=_("Need"))
    timeline = forms.BooleanField(required=False, label=_("Timeline"))
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label=_("Notes")
    )


class DisqualifyForm(forms.Form):
    reason = forms.ChoiceField(
        choices=DisqualificationReason.choices, label=_("Reason")
    )
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label=_("Notes")
    )


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Owner"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = policy.assignable_owners(user).order_by(
            "username"
        )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=format_lazy(
            _("CSV, UTF-8, with a header row; at most {megabytes} MB."),
            megabytes=settings.LEADS_IMPORT_MAX_BYTES // 2**20,
        ),
    )
    mode = forms.ChoiceField(
        choices=[
            (ImportMode.ALL_OR_NOTHING.value, _("All or nothing: any bad row cancels")),
            (ImportMode.KEEP_VALID.value, _("Keep the valid rows, report the others")),
        ],
        label=_("Mode"),
    )


def _exceeded(request) -> bool:
    """Read the upload (under its limit handler); return True if it was cut off."""
    request.FILES  # noqa: B018 - parsing here runs the size limit handler
    return any(getattr(h, "exceeded", False) for h in request.upload_handlers)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc)


@admin.register(Lead)
class LeadAdmin(ServiceAdminMixin, SalesModelAdmin):
    # A deleted lead's status history goes with it: its rollup counts too.
    def delete_model(self, request, obj) -> None:
        services.lead_delete(lead=obj)

    def delete_queryset(self, request, queryset) -> None:
        for lead in queryset:  # the few an admin selects, each with its history
            services.lead_delete(lead=lead)

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
    inlines = [QualificationInline, ConsentRecordInline]
    actions = ["promote", "qualify", "disqualify", "reassign"]
    change_list_template = "admin/leads/lead/change_list.html"
    object_history_template = "admin/leads/lead/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        # Services write history rows, not admin log entries: without them the
        # page said "no change history" for a qualified, converted lead.
        lead = self.get_object(request, unquote(object_id))
        if lead is not None:
            extra_context = {
                **(extra_context or {}),
                "status_changes": lead.status_changes.select_related("changed_by"),
                "decisions": lead.qualifications.select_related("decided_by"),
            }
        return super().history_view(request, object_id, extra_context)

    # Status of records added through this admin.
    create_status = LeadStatus.LEAD

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/",
                self.admin_site.admin_view(self._import_entry()),
                name="{}_{}_import".format(*info),
            ),
            *super().get_urls(),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # consent changes through its records only
            return [*self.readonly_fields, "consent"]
        return self.readonly_fields

    def apply_form(self, request, obj, form, change):
        if change:
            return services.lead_update(
                lead=obj,
                by=request.user,
                **{
                    name: value
                    for name, value in changed_fields(obj, form).items()
                    if name in services.UPDATABLE_FIELDS
                },
            )
        return services.lead_create(
            by=request.user,
            status=self.create_status,
            **{name: form.cleaned_data.get(name) for name in CREATE_FIELDS},
        )

    # --- actions, each with a small intermediate form -------------------------

    def _action_form(self, request, queryset, *, action, form, title, apply):
        """Show ``form`` for the selected rows; on submit, ``apply`` each one."""
        if "apply" in request.POST and form.is_valid():
            run_on_each(
                self,
                request,
                queryset.select_related("owner"),
                ngettext_lazy(
                    "%(count)d lead updated.", "%(count)d leads updated.", "count"
                ),
                lambda lead: apply(lead, form.cleaned_data),
            )
            return None
        return TemplateResponse(
            request,
            "admin/leads/lead/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "form": form,
                **selection_context(request, queryset),
                "action": action,
            },
        )

    @admin.action(description=_("Promote selected prospects to leads"))
    def promote(self, request, queryset):
        run_on_each(
            self,
            request,
            queryset,
            ngettext_lazy(
                "%(count)d prospect promoted to lead.",
                "%(count)d prospects promoted to leads.",
                "count",
            ),
            lambda lead: services.lead_promote(lead=lead, by=request.user),
        )

    @admin.action(description=_("Qualify selected leads (BANT form)"))
    def qualify(self, request, queryset):
        return self._action_form(
            request,
            queryset,
            action="qualify",
            form=QualifyForm(request.POST if "apply" in request.POST else None),
            title=_("Qualify leads"),
            apply=lambda lead, data: services.lead_qualify(
                lead=lead, by=request.user, **data
            ),
        )

    @admin.action(description=_("Disqualify selected leads (with a reason)"))
    def disqualify(self, request, queryset):
        return self._action_form(
            request,
            queryset,
            action="disqualify",
            form=DisqualifyForm(request.POST if "apply" in request.POST else None),
            title=_("Disqualify leads"),
            apply=lambda lead, data: services.lead_disqualify(
                lead=lead, by=request.user, **data
            ),
        )

    @admin.action(description=_("Reassign selected records to another owner"))
    def reassign(self, request, queryset):
        return self._action_form(
            request,
            queryset,
            action="reassign",
            form=ReassignForm(
                request.POST if "apply" in request.POST else None, user=request.user
            ),
            title=_("Reassign records"),
            apply=lambda lead, data: services.lead_reassign(
                lead=lead, to=data["owner"], by=request.user
            ),
        )

    # --- CSV upload -----------------------------------------------------------

    def _import_entry(self):
        """The upload view, with its size limit set before the body is read.

        The CSRF check parses the upload, so the view is exempt from the
        middleware's check and runs it itself once the limit is installed.
        """

        @csrf_exempt
        def entry(request):
            if not self.has_add_permission(request):
                raise PermissionDenied
            limit = settings.LEADS_IMPORT_MAX_BYTES
            handler = limit_upload(request, limit) if request.method == "POST" else None
            if request.method == "POST" and (handler is None or _exceeded(request)):
                return self._import_page(
                    request,
                    ImportForm(),
                    error=_("The file is larger than %(megabytes)d MB.")
                    % {"megabytes": limit // 2**20},
                    status=413,
                )
            return csrf_protect(self.import_view)(request)

        return entry

    def import_view(self, request):
        """Upload a CSV of prospects and leads; its import runs as a job.

        The page of the import (``LeadImportAdmin``) shows its progress, then
        its report.
        """
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            job = import_jobs.lead_import_start(
                file=form.cleaned_data["file"],
                by=request.user,
                mode=ImportMode(form.cleaned_data["mode"]),
            )
            self.message_user(
                request,
                gettext("%(filename)s is queued for import.")
                % {"filename": job.filename},
            )
            return HttpResponseRedirect(
                reverse("admin:leads_leadimport_change", args=[job.pk])
            )
        return self._import_page(request, form)

    def _import_page(self, request, form, *, error=None, status=200):
        return TemplateResponse(
            request,
            "admin/leads/lead/import.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Import prospects and leads"),
                "form": form,
                "error": error,
            },
            status=status,
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
class ContentOfferAdmin(ServiceAdminMixin, SalesModelAdmin):
    owner_field = None
    list_display = ["title", "kind", "slug", "active", "created_at"]
    list_filter = ["kind", "active"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return ContentOffer.objects.order_by("title")

    def _can_edit(self, request) -> bool:
        return policy.is_sales_staff(request.user) and policy.may_edit_offers(
            request.user
        )

    def has_add_permission(self, request) -> bool:
        return self._can_edit(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._can_edit(request)


@admin.register(Touch)
class TouchAdmin(SalesModelAdmin):
    """Touches are recorded by the capture service: read-only here."""

    owner_field = None
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["lead", "offer", "source", "occurred_at", "ip_address"]
    list_filter = ["source", "channel", "offer"]
    list_select_related = ["lead", "offer"]
    search_fields = ["lead__email", "lead__last_name"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at"]

    def get_queryset(self, request):
        return Touch.objects.visible_to(request.user).order_by("-occurred_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LeadImport)
class LeadImportAdmin(SalesModelAdmin):
    """CSV imports: progress while the job runs, the report when it ends.

    Read-only: an import is written by its job only; new ones start from the
    leads' "Import" page.
    """

    owner_field = "created_by"
    list_display = [
        "__str__",
        "status",
        "mode",
        "rows_done",
        "rejected_rows",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "mode"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    fields = [
        "filename",
        "size",
        "mode",
        "status",
        "saved",
        "progress_now",
        "error",
        "attempts",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "report",
    ]
    readonly_fields = fields
    change_form_template = "admin/leads/leadimport/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("rows done"))
    def rows_done(self, job: LeadImport) -> int:
        return import_jobs.progress(job)["rows"]

    @admin.display(description=_("rejected"))
    def rejected_rows(self, job: LeadImport) -> int:
        return import_jobs.progress(job)["rejected"]

    @admin.display(description=_("progress"))
    def progress_now(self, job: LeadImport) -> str:
        figures = import_jobs.progress(job)
        return gettext(
            "%(rows)s rows read, %(created)s created, %(merged)s merged, "
            "%(rejected)s rejected (%(rate)s rows/s)"
        ) % {
            "rows": formatting.number(figures["rows"]),
            "created": formatting.number(figures["created"]),
            "merged": formatting.number(figures["merged"]),
            "rejected": formatting.number(figures["rejected"]),
            "rate": formatting.number(figures["rate"]),
        }

    @admin.display(description=_("rejected rows"))
    def report(self, job: LeadImport) -> str:
        if not job.rejected:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((row["line"], row["reason"]) for row in job.rejected),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            gettext("Line"),
            gettext("Reason"),
            rows,
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        # The page reloads itself (no script) until the import ends.
        context["refresh"] = obj is not None and obj.status in (
            ImportStatus.QUEUED,
            ImportStatus.RUNNING,
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)
