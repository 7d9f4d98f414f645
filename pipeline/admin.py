"""Admin for deals (with their stage history), stage settings and activities.

Every write goes through ``pipeline.services``, like the API and the board: the
admin only translates a form or an action into a service call, and a refusal
into form errors (``crm.admin_services``) or messages.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from crm import formatting, policy
from crm.admin import OwnerListFilter, SalesModelAdmin
from crm.admin_services import ServiceAdminMixin, changed_fields, run_on_each
from crm.errors import Conflict
from crm.localized_fields import LocalizedDecimalField
from crm.versioning import record_update
from leads.admin import LeadAdmin
from leads.models import Lead
from pipeline import activities, services
from pipeline.models import (
    STAGE_INDEX,
    STAGE_ORDER,
    Activity,
    Deal,
    LostReason,
    StageChange,
    StageSetting,
)


class StaleListFilter(admin.SimpleListFilter):
    title = _("staleness")
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [("yes", _("Stale")), ("no", _("Not stale"))]

    def queryset(self, request, queryset):
        # ``is_stale`` is annotated by DealAdmin.get_queryset.
        if self.value() == "yes":
            return queryset.filter(is_stale=True)
        if self.value() == "no":
            return queryset.filter(is_stale=False)
        return queryset


class StageChangeInline(admin.TabularInline):
    """The deal's history, read-only: rows are appended by the services only."""

    model = StageChange
    fields = ["changed_at", "from_stage", "to_stage", "from_status", "to_status"]
    readonly_fields = [*fields, "changed_by"]
    ordering = ["-changed_at", "-pk"]
    extra = 0
    can_delete = False

    def get_fields(self, request, obj=None):
        return [*self.fields, "changed_by"]

    def has_view_permission(self, request, obj=None) -> bool:
        # The parent admin already scoped the deal to the user.
        return policy.is_sales_staff(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class DealActionForm(ActionForm):
    lost_reason = forms.ChoiceField(
        choices=[("", "---------"), *LostReason.choices],
        required=False,
        label=_("Lost reason (for “lose”)"),
    )


@admin.register(Deal)
class DealAdmin(ServiceAdminMixin, SalesModelAdmin):
    list_display = [
        "title",
        "owner",
        "stage",
        "status",
        "amount_shown",
        "stale",
        "expected_close_on",
        "stage_entered_at",
    ]
    list_filter = [
        "stage",
        "status",
        ("owner", OwnerListFilter),
        StaleListFilter,
        "channel",
    ]
    list_select_related = ["owner", "company"]
    search_fields = ["title", "company__name"]
    raw_id_fields = ["company", "contact"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    inlines = [StageChangeInline]
    action_form = DealActionForm
    actions = ["move_to_next_stage", "win", "lose", "reopen"]

    class Media:
        css = {"all": ["pipeline/deal_admin.css"]}

    fields = [
        "title",
        "owner",
        "company",
        "contact",
        "channel",
        "amount",
        "currency",
        "probability",
        "expected_close_on",
        "stage",
        "status",
        "lost_reason",
        "lost_notes",
        "closed_at",
        "stage_entered_at",
        "last_activity_at",
        "lead",
        "version",
    ]
    # Set only by the services (the actions below, the API, the board).
    transition_fields = [
        "stage",
        "status",
        "lost_reason",
        "lost_notes",
        "closed_at",
        "stage_entered_at",
        "last_activity_at",
        "lead",
        "version",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_staleness()

    def get_readonly_fields(self, request, obj=None):
        if obj is None:  # the first stage is chosen when adding
            return [f for f in self.transition_fields if f != "stage"]
        return self.transition_fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                f for f in self.fields if f not in self.get_readonly_fields(request)
            ]
        return self.fields

    @admin.display(ordering="amount", description=_("amount"))
    def amount_shown(self, deal: Deal) -> str:
        return formatting.money(deal.amount, deal.currency)

    # Not ``boolean=True``: its green tick reads as good news on a stale deal.
    @admin.display(ordering="is_stale", description=_("stale"))
    def stale(self, obj) -> str:
        if getattr(obj, "is_stale", False):
            return format_html('<strong class="stale-flag">{}</strong>', _("Stale"))
        return ""

    def apply_form(self, request, obj, form, change):
        if change:
            return services.deal_update(
                deal=obj,
                by=request.user,
                **{
                    name: form.cleaned_data[name]
                    for name in form.changed_data
                    if name in services.UPDATABLE_FIELDS
                },
            )
        return services.deal_create(
            by=request.user,
            stage=form.cleaned_data["stage"],
            **{
                name: form.cleaned_data[name]
                for name in services.UPDATABLE_FIELDS
                if name in form.cleaned_data
            },
        )

    @admin.action(description=_("Move selected deals to the next stage"))
    def move_to_next_stage(self, request, queryset):
        def move(deal):
            index = STAGE_INDEX[deal.stage]
            if index + 1 >= len(STAGE_ORDER):
                raise Conflict(_("already in the last stage (Closing)."))
            services.deal_move(
                deal=deal, to_stage=STAGE_ORDER[index + 1], by=request.user
            )

        run_on_each(
            self,
            request,
            queryset,
            ngettext_lazy("%(count)d deal moved.", "%(count)d deals moved.", "count"),
            move,
        )

    @admin.action(description=_("Mark selected deals as won"))
    def win(self, request, queryset):
        run_on_each(
            self,
            request,
            queryset,
            ngettext_lazy("%(count)d deal won.", "%(count)d deals won.", "count"),
            lambda deal: services.deal_win(deal=deal, by=request.user),
        )

    @admin.action(description=_("Mark selected deals as lost (choose a reason)"))
    def lose(self, request, queryset):
        reason = request.POST.get("lost_reason", "")
        if not reason:
            self.message_user(
                request, _("Choose a lost reason next to the action."), messages.ERROR
            )
            return
        run_on_each(
            self,
            request,
            queryset,
            ngettext_lazy("%(count)d deal lost.", "%(count)d deals lost.", "count"),
            lambda deal: services.deal_lose(
                deal=deal,
                by=request.user,
                reason=reason,
                notes=str(_("Closed from the admin"))
                if reason == LostReason.OTHER
                else "",
            ),
        )

    @admin.action(description=_("Reopen selected closed deals"))
    def reopen(self, request, queryset):
        run_on_each(
            self,
            request,
            queryset,
            ngettext_lazy(
                "%(count)d deal reopened.", "%(count)d deals reopened.", "count"
            ),
            lambda deal: services.deal_reopen(deal=deal, by=request.user),
        )


@admin.register(StageSetting)
class StageSettingAdmin(admin.ModelAdmin):
    """The five stages' probability and staleness limit; superusers edit them."""

    list_display = ["stage", "probability", "stale_after_days"]
    # Django shows these as inputs only to users with the change permission.
    list_editable = ["probability", "stale_after_days"]
    readonly_fields = ["stage"]
    ordering = ["pk"]

    def has_module_permission(self, request) -> bool:
        return policy.is_sales_staff(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return policy.is_sales_staff(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return policy.may_edit_stage_settings(request.user)

    def has_add_permission(self, request) -> bool:
        return False  # the five rows come from a data migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ActivityAdminForm(forms.ModelForm):
    # Unticked (what an older form or a script sends) logs a done activity.
    planned = forms.BooleanField(
        required=False,
        label=_("Planned"),
        help_text=_("A task for later: not done yet, due at the date above."),
    )


@admin.register(Activity)
class ActivityAdmin(ServiceAdminMixin, SalesModelAdmin):
    form = ActivityAdminForm
    list_display = [
        "occurred_at",
        "kind",
        "direction",
        "outcome",
        "done",
        "due_at",
        "is_cold_call",
        "owner",
        "lead",
        "contact",
        "deal",
    ]
    list_filter = [
        "done",
        "kind",
        "direction",
        "outcome",
        "is_cold_call",
        ("owner", OwnerListFilter),
    ]
    list_select_related = ["owner", "lead", "contact", "deal"]
    search_fields = ["notes", "lead__email", "deal__title"]
    raw_id_fields = ["lead", "contact", "deal"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at"]
    fields = [
        "kind",
        "direction",
        "outcome",
        "done",
        "due_at",
        "occurred_at",
        "duration_seconds",
        "lead",
        "contact",
        "deal",
        "owner",
        "notes",
        "is_cold_call",
    ]
    actions = ["complete"]

    def get_fields(self, request, obj=None):
        if obj is None:  # "planned" says it in the words of the one adding it
            return [("planned" if f == "done" else f) for f in self.fields]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["is_cold_call"]
        # A log: only the notes can be completed afterwards (a planned one is
        # marked done with the "complete" action, which logs it).
        return [f for f in self.fields if f != "notes"]

    @admin.action(description=_("Mark selected planned activities done now"))
    def complete(self, request, queryset):
        run_on_each(
            self,
            request,
            queryset,
            ngettext_lazy(
                "%(count)d activity done.", "%(count)d activities done.", "count"
            ),
            lambda activity: activities.activity_complete(
                activity=activity, by=request.user
            ),
        )

    def apply_form(self, request, obj, form, change):
        if change:  # only the notes are editable (get_readonly_fields)
            return record_update(obj, changes=changed_fields(obj, form))
        data = form.cleaned_data
        return activities.activity_log(
            by=request.user,
            **{
                name: data.get(name)
                for name in [
                    "kind",
                    "direction",
                    "lead",
                    "contact",
                    "deal",
                    "occurred_at",
                    "duration_seconds",
                    "owner",
                    "due_at",
                ]
            },
            outcome=data.get("outcome") or "",
            notes=data.get("notes") or "",
            done=not data.get("planned"),
        )


# --- "Convert to deal" on the leads app's Lead admin -----------------------------

# ``leads`` cannot import ``pipeline`` (conversion creates a deal), so the leads
# app registers its LeadAdmin and this app, autodiscovered after it
# (INSTALLED_APPS order), replaces the registration with a subclass that adds
# the action.
admin.site.unregister(Lead)


class ConvertForm(forms.Form):
    """What the deal needs, asked once for the selected leads."""

    amount = LocalizedDecimalField(
        max_digits=14, decimal_places=2, min_value=0, label=_("Amount")
    )
    currency = forms.CharField(
        min_length=3,
        max_length=3,
        required=False,
        label=_("Currency"),
        help_text=_("Blank: the default currency."),
    )
    expected_close_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        label=_("Expected close date"),
    )

    def clean_currency(self) -> str | None:
        return self.cleaned_data["currency"].upper() or None


@admin.register(Lead)
class ConvertingLeadAdmin(LeadAdmin):
    """The leads app's Lead admin plus "Convert to deal" (``lead_convert``)."""

    actions = [*LeadAdmin.actions, "convert_to_deal"]

    @admin.action(description=_("Convert selected qualified leads to deals"))
    def convert_to_deal(self, request, queryset):
        def convert(lead: Lead, data: dict) -> Deal:
            deal = services.lead_convert(lead=lead, by=request.user, **data)
            # The deal is the point of converting: link to it.
            self.message_user(
                request,
                format_html(
                    '{}: <a href="{}">{}</a>',
                    gettext("Converted %(lead)s") % {"lead": lead},
                    reverse("admin:pipeline_deal_change", args=[deal.pk]),
                    deal.title,
                ),
                messages.SUCCESS,
            )
            return deal

        return self._action_form(
            request,
            queryset,
            action="convert_to_deal",
            form=ConvertForm(request.POST if "apply" in request.POST else None),
            title=_("Convert leads to deals"),
            apply=convert,
        )
