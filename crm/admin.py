"""Admin for the core app, and the base class every sales admin builds on.

Reps and managers are staff without Django model permissions: every permission
below asks ``crm.policy``, like the API does, rather than per-model permission
rows that could drift from it.
"""

from decimal import Decimal

from axes.admin import AccessAttemptAdmin
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy

from crm import export_jobs, formatting, policy, services
from crm.admin_services import (
    ServiceAdminMixin,
    changed_fields,
    run_on_each,
    selection_context,
)
from crm.export import csv_response, exceeds
from crm.localized_fields import LocalizedDecimalField
from crm.models import (
    ActionJob,
    Company,
    Contact,
    DeliveryAttempt,
    ExportJob,
    ExportStatus,
    MrrMovement,
    OutboxEvent,
    Subscription,
    Team,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from crm.permission_labels import PermissionLabelsMixin
from crm.search import admin_search_terms, capped_admin_search, document_search


class OwnerListFilter(admin.RelatedFieldListFilter):
    """The "by owner" filter, listing only the users whose records one sees."""

    def field_choices(self, field, request, model_admin):
        owners = policy.visible_owners(request.user).order_by("username")
        return [(user.pk, str(user)) for user in owners]


class LocalizedNumbersMixin:
    """Show and read the admin's decimal inputs in the reader's language."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.DecimalField):
            kwargs.setdefault("form_class", LocalizedDecimalField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class SalesModelAdmin(LocalizedNumbersMixin, admin.ModelAdmin):
    """Scope the changelist, the choices and every permission to ``crm.policy``."""

    owner_field = "owner"

    def has_module_permission(self, request) -> bool:
        return policy.is_sales_staff(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return policy.is_sales_staff(request.user)

    def has_add_permission(self, request) -> bool:
        return policy.is_sales_staff(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        if not policy.is_sales_staff(request.user):
            return False
        return obj is None or policy.may_change(request.user, obj)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fields
        # A read-only page links a foreign key to its change page, and the
        # users' admin is closed to reps: show the owner's name instead of a
        # link that answers 403.
        return ["owner_name" if name == self.owner_field else name for name in fields]

    @admin.display(description=_("owner"))
    def owner_name(self, obj) -> str:
        owner = getattr(obj, self.owner_field, None)
        return (owner.get_full_name() or owner.username) if owner else "—"

    def has_delete_permission(self, request, obj=None) -> bool:
        # Without ``obj`` this decides whether the "delete selected" action and
        # the delete button exist at all for this model.
        return policy.is_sales_staff(request.user) and policy.may_delete(
            request.user, obj, model=self.model
        )

    def get_actions(self, request):
        # Every exportable model gets the export action, whatever ``actions``
        # its admin lists.
        actions = super().get_actions(request)
        if hasattr(self.model, "CSV_COLUMNS"):
            actions.setdefault("export_csv", self.get_action("export_csv"))
        return actions

    @admin.action(description=_("Export selected %(verbose_name_plural)s as CSV"))
    def export_csv(self, request, queryset):
        # A selection on a page (at most list_max_show_all rows) streams at
        # once; "select all" over more than EXPORT_SYNC_MAX_ROWS rows becomes
        # a background job, the export of the changelist as it is filtered.
        limit = settings.EXPORT_SYNC_MAX_ROWS
        if request.POST.get("select_across") != "1" or not exceeds(queryset, limit):
            return csv_response(
                queryset.order_by("pk"),
                self.model.CSV_COLUMNS,
                self.model._meta.model_name,
            )
        job = export_jobs.export_start(
            by=request.user,
            kind=self.model._meta.label_lower,
            admin_query=request.GET.urlencode(),
        )
        self.message_user(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                _("More than %(count)s rows: the export runs in the background.")
                % {"count": formatting.number(limit)},
                reverse("admin:crm_exportjob_change", args=[job.pk]),
                _("Follow it and download the file."),
            ),
            messages.INFO,
        )
        return None

    def get_search_results(self, request, queryset, search_term):
        # The search documents' indexes serve the search (crm.search); fields
        # they cannot (a lookup prefix, a reverse relation) take Django's.
        terms = admin_search_terms(search_term)
        search_fields = self.get_search_fields(request)
        found = terms and document_search(queryset.model, search_fields, terms)
        if not (search_fields and found):
            return super().get_search_results(
                request, queryset, capped_admin_search(search_term)
            )
        # Forward relations only, tested by subqueries: no duplicates.
        return queryset.filter(found), False

    def get_queryset(self, request):
        qs = self.model._default_manager.visible_to(request.user)
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if self.owner_field:
            initial.setdefault(self.owner_field, request.user.pk)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model._default_manager
        if "queryset" in kwargs:
            pass  # a subclass chose narrower choices
        elif db_field.name == self.owner_field:
            kwargs["queryset"] = policy.assignable_owners(request.user)
        elif hasattr(related, "visible_to"):
            # An id out of scope is refused like an id that does not exist.
            kwargs["queryset"] = related.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _is_autocomplete(request) -> bool:
    match = request.resolver_match
    return match is not None and match.url_name == "autocomplete"


@admin.register(User)
class UserAdmin(PermissionLabelsMixin, DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active", "is_staff"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Sales"), {"fields": ("role", "team", "language")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Sales"), {"fields": ("role", "team", "language")}),
    )

    # The owner pickers of the sales admins search users here: sales staff may
    # search, and find only the users they may assign records to.
    def has_view_permission(self, request, obj=None) -> bool:
        if obj is None and _is_autocomplete(request):
            return policy.is_sales_staff(request.user)
        return super().has_view_permission(request, obj)

    def get_search_results(self, request, queryset, search_term):
        if _is_autocomplete(request):
            queryset = queryset & policy.assignable_owners(request.user)
        return super().get_search_results(request, queryset, search_term)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(PermissionLabelsMixin, DjangoGroupAdmin):
    """Django's, with its permissions named in the reader's language."""


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager", "handles_inbound"]
    list_select_related = ["manager"]
    search_fields = ["name"]
    autocomplete_fields = ["manager"]

    def has_module_permission(self, request) -> bool:
        return policy.is_sales_staff(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return policy.is_sales_staff(request.user)


class AddressBookAdmin(ServiceAdminMixin, SalesModelAdmin):
    """Companies and contacts: deleted through the service, never half-way.

    A record that others refer to (``PROTECT``) shows no delete button, and its
    delete page answers what the API's 409 says instead of Django's list of
    protected objects.
    """

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and not (obj and services.address_book_deletion_refusal(obj))

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        refusal = (
            obj is not None
            and super().has_delete_permission(request, obj)
            and services.address_book_deletion_refusal(obj)
        )
        if refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            meta = obj._meta
            change = f"admin:{meta.app_label}_{meta.model_name}_change"
            return redirect(reverse(change, args=[obj.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj) -> None:
        services.address_book_delete(record=obj, by=request.user)


@admin.register(Company)
class CompanyAdmin(AddressBookAdmin):
    list_display = ["name", "domain", "industry", "employees", "country", "owner"]
    list_filter = ["industry", "country"]
    list_select_related = ["owner"]
    search_fields = ["name", "domain"]
    autocomplete_fields = ["owner"]
    ordering = ["name"]

    def apply_form(self, request, obj, form, change: bool):
        if not change:
            return super().apply_form(request, obj, form, change)
        # A new owner takes the customer's revenue rollup along.
        return services.company_update(company=obj, changes=changed_fields(obj, form))


@admin.register(Contact)
class ContactAdmin(AddressBookAdmin):
    list_display = ["__str__", "email", "job_title", "company", "owner"]
    list_select_related = ["company", "owner"]
    search_fields = ["first_name", "last_name", "email"]
    autocomplete_fields = ["company", "owner"]
    ordering = ["last_name", "first_name"]


class SubscriptionChangeForm(forms.Form):
    plan = forms.CharField(max_length=100, label=_("Plan"))
    mrr = LocalizedDecimalField(
        label=_("MRR"), max_digits=12, decimal_places=2, min_value=Decimal(0)
    )
    effective_on = forms.DateField(
        required=False,
        label=_("Effective on"),
        help_text=_("Default today; never before the start or after the end."),
    )


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = [
            "company",
            "plan",
            "mrr",
            "currency",
            "started_on",
        ]

    def clean_started_on(self):
        value = self.cleaned_data["started_on"]
        sub = self.instance
        if sub.pk and sub.replaces_id and value != sub.started_on:
            raise forms.ValidationError(
                _(
                    "This subscription continues a plan change; its start is the "
                    "day of the change."
                )
            )
        return value

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"]
        if len(value) != 3 or not value.isalpha():
            raise forms.ValidationError(_("Use a three-letter ISO 4217 code."))
        return value.upper()


@admin.register(Subscription)
class SubscriptionAdmin(ServiceAdminMixin, SalesModelAdmin):
    form = SubscriptionForm
    owner_field = None
    list_display = ["company", "plan", "mrr_shown", "started_on", "ended_on"]

    @admin.display(ordering="mrr", description=_("MRR"))
    def mrr_shown(self, subscription: Subscription) -> str:
        return formatting.money(subscription.mrr, subscription.currency)

    list_filter = ["currency", "started_on", "ended_on"]
    list_select_related = ["company"]
    search_fields = ["plan", "company__name"]
    autocomplete_fields = ["company"]
    date_hierarchy = "started_on"
    # A subscription ends only through the service (the action below, the
    # API's end/), which records who and when and tells the webhooks; plan
    # and MRR change through change_plan (the MRR ledger keeps the history).
    readonly_fields = [
        "ended_on",
        "churn_reason",
        "ended_by",
        "ended_recorded_at",
        "replaces",
    ]
    actions = ["end_today", "change_plan"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # The ledger is per customer and currency.
            return [
                *self.readonly_fields,
                "company",
                "plan",
                "mrr",
                "mrr_shown",
                "currency",
            ]
        return self.readonly_fields

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None:
            return fields
        # Read-only, the MRR reads as money (1 490,00 €), not as a bare decimal.
        return [name for name in fields if name != "mrr"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "company":
            # Subscriptions are added to the companies one may change.
            kwargs["queryset"] = Company.objects.changeable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def apply_form(self, request, obj, form, change):
        # The form validated what the services check (the model's constraints,
        # SubscriptionForm.clean_currency); the services post the MRR ledger.
        if change:
            if "started_on" in form.changed_data:
                return services.subscription_update(
                    subscription=obj, by=request.user, started_on=obj.started_on
                )
            return obj
        return services.subscription_start(
            company=obj.company,
            by=request.user,
            plan=obj.plan,
            mrr=obj.mrr,
            currency=obj.currency,
            started_on=obj.started_on,
        )

    @admin.action(description=_("End selected subscriptions today"))
    def end_today(self, request, queryset):
        run_on_each(
            self,
            request,
            queryset.select_related("company"),
            ngettext_lazy(
                "%(count)d subscription ended.",
                "%(count)d subscriptions ended.",
                "count",
            ),
            lambda subscription: services.subscription_end(
                subscription=subscription, by=request.user
            ),
        )

    @admin.action(description=_("Change plan and MRR of selected subscriptions"))
    def change_plan(self, request, queryset):
        form = SubscriptionChangeForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            run_on_each(
                self,
                request,
                queryset,
                ngettext_lazy(
                    "%(count)d subscription changed.",
                    "%(count)d subscriptions changed.",
                    "count",
                ),
                lambda subscription: services.subscription_change(
                    subscription=subscription, by=request.user, **form.cleaned_data
                ),
            )
            return None
        return TemplateResponse(
            request,
            "admin/crm/subscription/change_plan.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Change plan and MRR"),
                "form": form,
                **selection_context(request, queryset),
                "action": "change_plan",
            },
        )


@admin.register(MrrMovement)
class MrrMovementAdmin(SalesModelAdmin):
    """The ledger is written by the subscription services only: read it here."""

    owner_field = None
    list_display = ["company", "effective_on", "kind", "amount_shown"]
    # All read-only: the amount as money (1 490,00 €), not as a bare decimal.
    fields = ["company", "effective_on", "kind", "amount_shown", "recorded_at"]
    readonly_fields = fields

    @admin.display(ordering="amount", description=_("amount"))
    def amount_shown(self, movement: MrrMovement) -> str:
        return formatting.money(movement.amount, movement.currency)

    list_filter = ["kind", "currency", "effective_on"]
    list_select_related = ["company"]
    search_fields = ["company__name"]
    date_hierarchy = "effective_on"

    def get_queryset(self, request):
        return MrrMovement.objects.visible_to(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.site_header = _("Sales CRM")
admin.site.site_title = _("Sales CRM")
admin.site.index_title = _("Site administration")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "status_code", "duration_ms", "error"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["url", "active", "is_failing", "consecutive_failures", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    readonly_fields = [
        "consecutive_failures",
        "failing_since",
        "created_by",
        "previous_secret_expires_at",
    ]
    exclude = ["previous_secret"]  # rotated through the API, never typed in

    @admin.display(boolean=True)
    def is_failing(self, obj) -> bool:
        return obj.is_failing


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "next_attempt_at"]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["event_type", "created_at"]
    list_filter = ["event_type"]
    readonly_fields = ["event_type", "payload", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- Brute-force protection (django-axes) ------------------------------------
# Axes registers its audit of failed logins (attempts, failure log, access log);
# the attempts page gets an explicit unlock action for the admins.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    actions = [*AccessAttemptAdmin.actions, "unlock"]

    # Axes' columns are methods without a label, and its cleanup message is an
    # f-string no catalogue can match: both redone here, in the reader's language.
    # Its cleanup also reads the attempt time that axes sets on sign-in requests
    # only (an AttributeError, a 500, on an admin's request): set here first.
    @admin.display(description=_("expiration"))
    def expiration(self, obj: AccessAttempt):
        return super().expiration(obj)

    @admin.display(description=_("status"))
    def status(self, obj: AccessAttempt):
        return super().status(obj)

    @admin.action(description=_("Clean up expired attempts"))
    def cleanup_expired_attempts(self, request, queryset):
        AxesProxyHandler.update_request(request)
        count = self.handler.clean_expired_user_attempts(request=request)
        self.message_user(
            request,
            ngettext(
                "Cleaned up %(count)d expired access attempt.",
                "Cleaned up %(count)d expired access attempts.",
                count,
            )
            % {"count": count},
        )

    @admin.action(description=_("Unlock the accounts and addresses of selected rows"))
    def unlock(self, request, queryset):
        pairs = set(queryset.values_list("username", "ip_address"))
        removed = 0
        for username in {username for username, _address in pairs if username}:
            removed += axes_reset(username=username)
        for address in {address for _username, address in pairs if address}:
            removed += axes_reset(ip=address)
        self.message_user(
            request,
            ngettext(
                "Unlocked: %(count)d failed-attempt record cleared.",
                "Unlocked: %(count)d failed-attempt records cleared.",
                removed,
            )
            % {"count": removed},
        )


@admin.register(ExportJob)
class ExportJobAdmin(SalesModelAdmin):
    """CSV exports run as jobs: progress while it runs, the download when done.

    Read-only: an export is written by its job only. A user sees their own;
    admins every one, failures included.
    """

    owner_field = "requested_by"
    list_display = [
        "__str__",
        "status",
        "source",
        "rows",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "source"]
    list_select_related = ["requested_by"]
    date_hierarchy = "created_at"
    fields = [
        "kind",
        "source",
        "status",
        "progress_now",
        "download",
        "size",
        "error",
        "attempts",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    change_form_template = "admin/crm/job_change_form.html"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("progress"))
    def progress_now(self, job: ExportJob) -> str:
        figures = export_jobs.progress(job)
        return _("%(rows)s of %(total)s rows written (%(rate)s rows/s)") % {
            "rows": formatting.number(figures["rows"]),
            "total": "?"
            if figures["total"] is None
            else formatting.number(figures["total"]),
            "rate": formatting.number(figures["rate"]),
        }

    @admin.display(description=_("file"))
    def download(self, job: ExportJob) -> str:
        if job.status != ExportStatus.DONE:
            return "-"
        # The API's download answers a signed-in session as well, under the
        # same policy as the API's clients.
        return format_html(
            '<a href="{}">{}</a>',
            reverse("export-download", args=[job.pk]),
            _("Download %(name)s") % {"name": job.filename},
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        # The page reloads itself (no script) until the export ends.
        context["refresh"] = obj is not None and not obj.is_finished
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(ActionJob)
class ActionJobAdmin(SalesModelAdmin):
    """Admin actions over many records, run as jobs: progress, then the report.

    Read-only: a bulk action is written by its job only. A user sees their
    own; admins every one, failures included.
    """

    owner_field = "requested_by"
    list_display = [
        "__str__",
        "status",
        "done",
        "total",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    list_select_related = ["requested_by"]
    date_hierarchy = "created_at"
    fields = [
        "description",
        "model",
        "status",
        "progress_now",
        "report_lines",
        "error",
        "attempts",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields
    change_form_template = "admin/crm/job_change_form.html"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("progress"))
    def progress_now(self, job: ActionJob) -> str:
        return _("%(done)s of %(total)s records done") % {
            "done": formatting.number(job.done),
            "total": "?" if job.total is None else formatting.number(job.total),
        }

    @admin.display(description=_("messages"))
    def report_lines(self, job: ActionJob) -> str:
        if not job.report:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", "<li>{}</li>", ((line["text"],) for line in job.report)
            ),
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        # The page reloads itself (no script) until the action ends.
        context["refresh"] = obj is not None and not obj.is_finished
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)
