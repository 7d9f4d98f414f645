"""Admin: KPI targets, and the KPI dashboard page (through the ``Dashboard`` proxy).

Access asks ``crm.policy``, like the API: ``KpiTarget.objects.visible_to`` for
reading, ``may_set_target`` for writing, ``segment_for`` for the dashboard.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from crm import policy
from crm.admin import LocalizedNumbersMixin
from crm.admin_services import ServiceAdminMixin
from crm.localized_fields import LocalizedDecimalField
from metrics.dashboard import chart_response, dashboard_context, kpi_figure
from metrics.kpis.registry import BY_KEY
from metrics.models import Dashboard, KpiTarget


def _is_sales_staff(request) -> bool:
    return policy.is_sales_staff(request.user)


class KpiTargetForm(forms.ModelForm):
    # Four places for rates (0.2500), shown only as far as they say something:
    # 0,25 for a rate, 12 for a count, 8 000 for an amount.
    value = LocalizedDecimalField(
        max_digits=16,
        decimal_places=4,
        min_value=0,
        min_places=0,
        label=KpiTarget._meta.get_field("value").verbose_name,
        help_text=KpiTarget._meta.get_field("value").help_text,
    )

    class Meta:
        model = KpiTarget
        fields = [
            "kpi",
            "period_kind",
            "period_start",
            "team",
            "owner",
            "value",
            "currency",
        ]

    def clean(self):
        data = super().clean()
        if not policy.may_set_target(
            self.request.user, team=data.get("team"), owner=data.get("owner")
        ):
            raise forms.ValidationError(
                _("You can set targets for the teams you manage and their reps only.")
            )
        return data


@admin.register(KpiTarget)
class KpiTargetAdmin(LocalizedNumbersMixin, ServiceAdminMixin, admin.ModelAdmin):
    form = KpiTargetForm
    list_display = ["kpi", "period_kind", "period_start", "scope", "target"]
    list_filter = ["kpi", "period_kind", "period_start", "team"]
    list_select_related = ["team", "owner"]
    date_hierarchy = "period_start"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.request = request
        return form

    @admin.display(ordering="value", description=_("target"))
    def target(self, obj) -> str:
        """The value in the KPI's unit: money, percentage, count or duration."""
        kpi = BY_KEY.get(obj.kpi)
        return kpi_figure(kpi, obj.value, obj.currency) if kpi else str(obj.value)

    @admin.display(description=_("scope"))
    def scope(self, obj) -> str:
        return obj.scope_label

    def get_queryset(self, request):
        return KpiTarget.objects.visible_to(request.user).select_related(
            "team", "owner__team"
        )

    def has_module_permission(self, request) -> bool:
        return _is_sales_staff(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _is_sales_staff(request)

    def has_add_permission(self, request) -> bool:
        return _is_sales_staff(request) and policy.may_set_targets(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        if not self.has_add_permission(request):
            return False
        return obj is None or policy.may_set_target(
            request.user, team=obj.team, owner=obj.owner
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return _is_sales_staff(request) and policy.may_delete(
            request.user, obj, model=KpiTarget
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = policy.target_teams(request.user)
        if db_field.name == "owner":
            kwargs["queryset"] = policy.target_owners(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The admin index links here; the changelist is the KPI dashboard page."""

    def has_module_permission(self, request) -> bool:
        return _is_sales_staff(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _is_sales_staff(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("KPI dashboard"),
            # The whole width for the figures and charts; the CRM's navigation
            # bar stays (and the admin index is one click away).
            "is_nav_sidebar_enabled": False,
            "opts": self.model._meta,
            **dashboard_context(request),
        }
        return TemplateResponse(request, "admin/metrics/dashboard.html", context)

    def get_urls(self):
        chart = path(
            "chart/<slug:name>.svg",
            # cacheable: the view sets its own headers (ETag, revalidation).
            self.admin_site.admin_view(self.chart_view, cacheable=True),
            name="metrics_dashboard_chart",
        )
        return [chart, *super().get_urls()]

    def chart_view(self, request, name):
        """One chart of the dashboard, as SVG (``metrics.dashboard``)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return chart_response(request, name)
