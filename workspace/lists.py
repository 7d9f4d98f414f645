"""The lists of leads and deals: filters, sorting, pages and saved views.

A list reads two queries whatever its length (the page's count, the page's
rows with their owner and company joined) plus the user's saved views.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm import policy
from crm.models import User
from leads.models import Channel, Lead, LeadStatus
from pipeline.models import Deal, DealStatus, Stage
from workspace import search, services
from workspace.models import ListKind, SavedView
from workspace.views import sales_user_required

PER_PAGE = 25


class ListFilterForm(forms.Form):
    """The filters of a list; what it leaves blank does not filter."""

    # (value, label, order_by): the first is the default.
    SORTS: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    SEARCHED: tuple[str, ...] = ()

    q = forms.CharField(
        required=False, max_length=100, label=gettext_lazy("Containing")
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("Anyone"),
        label=gettext_lazy("Owner"),
    )
    sort = forms.ChoiceField(required=False, label=gettext_lazy("Sort by"))

    def __init__(self, *args, user: User, **kwargs):
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = policy.visible_owners(user).order_by(
            "first_name", "username"
        )
        self.fields["owner"].label_from_instance = lambda person: (
            person.get_full_name() or person.username
        )
        self.fields["sort"].choices = [(v, label) for v, label, _o in self.SORTS]

    def apply(self, queryset: QuerySet) -> QuerySet:
        """Return ``queryset`` filtered and sorted (unfiltered if invalid)."""
        data = self.cleaned_data if self.is_valid() else {}
        filters = {
            name: value
            for name, value in data.items()
            if name not in ("q", "sort") and value not in (None, "")
        }
        queryset = queryset.filter(**filters)
        _query, terms = search.terms_of(data.get("q") or "")
        if terms:
            queryset = queryset.filter(search.substring(self.SEARCHED, terms))
        order = {v: o for v, _label, o in self.SORTS}
        return queryset.order_by(*order.get(data.get("sort"), self.SORTS[0][2]))

    def query(self) -> str:
        """Return the filters as a query string, for a link or a saved view."""
        if not self.is_valid():
            return ""
        values = {
            name: getattr(value, "pk", value)
            for name, value in self.cleaned_data.items()
            if value not in (None, "")
        }
        return urlencode(values)


class LeadFilterForm(ListFilterForm):
    SORTS = (
        ("-created_at", gettext_lazy("Newest first"), ("-created_at", "-pk")),
        ("created_at", gettext_lazy("Oldest first"), ("created_at", "pk")),
        ("last_name", gettext_lazy("Name"), ("last_name", "first_name", "pk")),
        ("-score", gettext_lazy("Highest score"), ("-score", "-pk")),
    )
    SEARCHED = search.TEXTS[Lead]

    status = forms.ChoiceField(
        choices=[("", gettext_lazy("Any status")), *LeadStatus.choices],
        required=False,
        label=gettext_lazy("Status"),
    )
    channel = forms.ChoiceField(
        choices=[("", gettext_lazy("Any channel")), *Channel.choices],
        required=False,
        label=gettext_lazy("Channel"),
    )
    field_order = ["q", "status", "channel", "owner", "sort"]


class DealFilterForm(ListFilterForm):
    SORTS = (
        ("-created_at", gettext_lazy("Newest first"), ("-created_at", "-pk")),
        (
            "expected_close_on",
            gettext_lazy("Closing soonest"),
            ("expected_close_on", "pk"),
        ),
        ("-amount", gettext_lazy("Largest amount"), ("-amount", "-pk")),
        ("title", gettext_lazy("Title"), ("title", "pk")),
    )
    SEARCHED = search.TEXTS[Deal]

    status = forms.ChoiceField(
        choices=[("", gettext_lazy("Any status")), *DealStatus.choices],
        required=False,
        label=gettext_lazy("Status"),
    )
    stage = forms.ChoiceField(
        choices=[("", gettext_lazy("Any stage")), *Stage.choices],
        required=False,
        label=gettext_lazy("Stage"),
    )
    field_order = ["q", "status", "stage", "owner", "sort"]


LISTS = {
    ListKind.LEADS: (
        LeadFilterForm,
        lambda user: Lead.objects.visible_to(user).select_related("owner"),
    ),
    ListKind.DEALS: (
        DealFilterForm,
        lambda user: Deal.objects.visible_to(user).select_related("owner", "company"),
    ),
}


class SaveViewForm(forms.Form):
    name = forms.CharField(max_length=80, label=gettext_lazy("Save these filters as"))


def _list(request: HttpRequest, kind: str) -> HttpResponse:
    form_class, rows = LISTS[kind]
    filters = form_class(request.GET or None, user=request.user)
    save_form = SaveViewForm(auto_id="save-%s")
    status = 200
    if request.method == "POST":
        save_form = SaveViewForm(request.POST, auto_id="save-%s")
        filters = form_class(request.POST, user=request.user)
        if save_form.is_valid():
            try:
                view = services.saved_view_create(
                    by=request.user,
                    kind=kind,
                    name=save_form.cleaned_data["name"],
                    query=filters.query(),
                )
            except ValidationError as exc:
                save_form.add_error("name", exc.messages)
            else:
                messages.success(request, _("View “%(name)s” saved.") % {"name": view})
                return redirect(f"{request.path}?{view.query}")
        status = 400
    page = Paginator(filters.apply(rows(request.user)), PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = filters.query()
    return render(
        request,
        f"workspace/{kind}_list.html",
        {
            "filters": filters,
            "page": page,
            "query": query,
            "save_form": save_form,
            "views": list(SavedView.objects.visible_to(request.user).filter(kind=kind)),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@sales_user_required
def lead_list(request: HttpRequest) -> HttpResponse:
    """List the leads in scope, filtered, sorted, a page at a time."""
    return _list(request, ListKind.LEADS)


@require_http_methods(["GET", "HEAD", "POST"])
@sales_user_required
def deal_list(request: HttpRequest) -> HttpResponse:
    """List the deals in scope, filtered, sorted, a page at a time."""
    return _list(request, ListKind.DEALS)


def _view_action(request: HttpRequest, pk: int, act) -> HttpResponse:
    view = get_object_or_404(SavedView.objects.visible_to(request.user), pk=pk)
    target = reverse(f"workspace:{view.kind}")
    try:
        text = act(view)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied:
        messages.error(request, _("You cannot change this view."))
    else:
        messages.success(request, text)
    return redirect(target)


@require_POST
@sales_user_required
def view_rename(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename one of the user's saved views."""

    def rename(view: SavedView) -> str:
        form = SaveViewForm(request.POST)
        if not form.is_valid():
            raise ValidationError(form.errors["name"])
        view = services.saved_view_rename(
            view=view, by=request.user, name=form.cleaned_data["name"]
        )
        return _("View renamed to “%(name)s”.") % {"name": view}

    return _view_action(request, pk, rename)


@require_POST
@sales_user_required
def view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one of the user's saved views."""

    def delete(view: SavedView) -> str:
        services.saved_view_delete(view=view, by=request.user)
        return _("View “%(name)s” deleted.") % {"name": view}

    return _view_action(request, pk, delete)
