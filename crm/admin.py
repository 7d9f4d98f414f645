"""Admin for the core app, and the base class every sales admin builds on.

Reps and managers are staff without Django model permissions: access is decided
by the same visibility rule as the API (``visible_to`` and ``can_change``), not
by per-model permission rows that could drift from it.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from crm import services
from crm.errors import Conflict
from crm.export import csv_response
from crm.models import (
    Company,
    Contact,
    DeliveryAttempt,
    MrrMovement,
    OutboxEvent,
    Subscription,
    Team,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from crm.visibility import assignable_owners_scope


class SalesModelAdmin(admin.ModelAdmin):
    """Scope the changelist and every permission to the model's visibility rule."""

    owner_field = "owner"

    def _is_sales_staff(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and user.is_sales_user

    def has_module_permission(self, request) -> bool:
        return self._is_sales_staff(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._is_sales_staff(request)

    def has_add_permission(self, request) -> bool:
        return self._is_sales_staff(request)

    def has_change_permission(self, request, obj=None) -> bool:
        if not self._is_sales_staff(request):
            return False
        if obj is None or not hasattr(obj, "can_change"):
            return True
        return obj.can_change(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj)

    def get_actions(self, request):
        # Every exportable model gets the export action, whatever ``actions``
        # its admin lists.
        actions = super().get_actions(request)
        if hasattr(self.model, "CSV_COLUMNS"):
            actions.setdefault("export_csv", self.get_action("export_csv"))
        return actions

    @admin.action(description="Export selected %(verbose_name_plural)s as CSV")
    def export_csv(self, request, queryset):
        return csv_response(
            queryset.order_by("pk"), self.model.CSV_COLUMNS, self.model._meta.model_name
        )

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
        if db_field.name == self.owner_field:
            kwargs["queryset"] = User.objects.filter(
                assignable_owners_scope(request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active", "is_staff"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Sales", {"fields": ("role", "team")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Sales", {"fields": ("role", "team")}),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager", "handles_inbound"]
    list_select_related = ["manager"]
    search_fields = ["name"]
    autocomplete_fields = ["manager"]

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


@admin.register(Company)
class CompanyAdmin(SalesModelAdmin):
    list_display = ["name", "domain", "industry", "employees", "country", "owner"]
    list_filter = ["industry", "country"]
    list_select_related = ["owner"]
    search_fields = ["name", "domain"]
    autocomplete_fields = ["owner"]
    ordering = ["name"]


@admin.register(Contact)
class ContactAdmin(SalesModelAdmin):
    list_display = ["__str__", "email", "job_title", "company", "owner"]
    list_select_related = ["company", "owner"]
    search_fields = ["first_name", "last_name", "email"]
    autocomplete_fields = ["company", "owner"]
    ordering = ["last_name", "first_name"]


class SubscriptionChangeForm(forms.Form):
    plan = forms.CharField(max_length=100)
    mrr = forms.DecimalField(
        label="MRR", max_digits=12, decimal_places=2, min_value=Decimal(0)
    )
    effective_on = forms.DateField(
        required=False,
        help_text="Default today; never before the start or after the end.",
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
            "ended_on",
            "churn_reason",
        ]

    def clean_started_on(self):
        value = self.cleaned_data["started_on"]
        sub = self.instance
        if sub.pk and sub.replaces_id and value != sub.started_on:
            raise forms.ValidationError(
                "This subscription continues a plan change; its start is the "
                "day of the change."
            )
        return value

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"]
        if len(value) != 3 or not value.isalpha():
            raise forms.ValidationError("Use a three-letter ISO 4217 code.")
        return value.upper()


@admin.register(Subscription)
class SubscriptionAdmin(SalesModelAdmin):
    form = SubscriptionForm
    owner_field = None
    list_display = ["company", "plan", "mrr", "currency", "started_on", "ended_on"]
    list_filter = ["currency", "started_on", "ended_on"]
    list_select_related = ["company"]
    search_fields = ["plan", "company__name"]
    autocomplete_fields = ["company"]
    date_hierarchy = "started_on"
    readonly_fields = ["ended_by", "ended_recorded_at", "replaces"]
    actions = ["end_today", "change_plan"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # Ending and plan changes are the explicit actions below; the
            # ledger is per customer and currency.
            return [
                *self.readonly_fields,
                "company",
                "plan",
                "mrr",
                "currency",
                "ended_on",
                "churn_reason",
            ]
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "company":
            kwargs["queryset"] = Company.objects.changeable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # The form validated what the services check (the model's constraints,
        # SubscriptionForm.clean_currency); the services post the MRR ledger.
        if change:
            if "started_on" in form.changed_data:
                services.subscription_update(
                    subscription=obj, by=request.user, started_on=obj.started_on
                )
            return
        created = services.subscription_start(
            company=obj.company,
            by=request.user,
            plan=obj.plan,
            mrr=obj.mrr,
            currency=obj.currency,
            started_on=obj.started_on,
            ended_on=obj.ended_on,
            churn_reason=obj.churn_reason,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description="End selected subscriptions today")
    def end_today(self, request, queryset):
        ended = 0
        for subscription in queryset.select_related("company"):
            try:
                services.subscription_end(subscription=subscription, by=request.user)
                ended += 1
            except (Conflict, ValidationError) as exc:
                self.message_user(request, f"{subscription}: {exc}", messages.WARNING)
        self.message_user(request, f"Ended {ended} subscription(s).")

    @admin.action(description="Change plan and MRR of selected subscriptions")
    def change_plan(self, request, queryset):
        form = SubscriptionChangeForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            changed = 0
            for subscription in queryset:
                try:
                    services.subscription_change(
                        subscription=subscription, by=request.user, **form.cleaned_data
                    )
                    changed += 1
                except (Conflict, ValidationError) as exc:
                    text = " ".join(getattr(exc, "messages", [str(exc)]))
                    self.message_user(
                        request, f"{subscription}: {text}", messages.WARNING
                    )
            self.message_user(request, f"Changed {changed} subscription(s).")
            return None
        return TemplateResponse(
            request,
            "admin/crm/subscription/change_plan.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Change plan and MRR",
                "form": form,
                "queryset": queryset,
                "action": "change_plan",
            },
        )


@admin.register(MrrMovement)
class MrrMovementAdmin(SalesModelAdmin):
    """The ledger is written by the subscription services only: read it here."""

    owner_field = None
    list_display = ["company", "effective_on", "kind", "amount", "currency"]
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


admin.site.site_header = "Sales CRM"
admin.site.site_title = "Sales CRM"


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "status_code", "duration_ms", "error"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "active", "is_failing", "consecutive_failures", "created_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    readonly_fields = ["consecutive_failures", "failing_since", "created_by"]

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
