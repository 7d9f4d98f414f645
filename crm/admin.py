"""Admin for the core app, and the base class every sales admin builds on.

Reps and managers are staff without Django model permissions: access is decided
by the same visibility rule as the API (``visible_to`` and ``can_change``), not
by per-model permission rows that could drift from it.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError

from crm import services
from crm.errors import Conflict
from crm.export import csv_response
from crm.models import (
    Company,
    Contact,
    DeliveryAttempt,
    OutboxEvent,
    Subscription,
    Team,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from crm.search import capped_admin_search
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

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(
            request, queryset, capped_admin_search(search_term)
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


@admin.register(Subscription)
class SubscriptionAdmin(SalesModelAdmin):
    owner_field = None
    list_display = ["company", "plan", "mrr", "currency", "started_on", "ended_on"]
    list_filter = ["currency", "started_on", "ended_on"]
    list_select_related = ["company"]
    search_fields = ["plan", "company__name"]
    autocomplete_fields = ["company"]
    date_hierarchy = "started_on"
    readonly_fields = ["ended_by", "ended_recorded_at"]
    actions = ["end_today"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # ending is the explicit action below
            return [*self.readonly_fields, "ended_on", "churn_reason"]
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "company":
            kwargs["queryset"] = Company.objects.changeable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

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

    @admin.action(description="Unlock the accounts and addresses of selected rows")
    def unlock(self, request, queryset):
        pairs = set(queryset.values_list("username", "ip_address"))
        removed = 0
        for username in {username for username, _ in pairs if username}:
            removed += axes_reset(username=username)
        for address in {address for _, address in pairs if address}:
            removed += axes_reset(ip=address)
        self.message_user(
            request, f"Unlocked: {removed} failed-attempt record(s) cleared."
        )
