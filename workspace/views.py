"""The rep's workspace: Today, one page per record with its actions, and search.

Views only translate: every read is scoped by ``visible_to`` (an id outside the
user's scope is a 404, like a missing one) and every change is a service call.
A refused action re-renders its record page with the form's errors (400) or the
service's reason (409); an accepted one redirects (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from crm import policy
from crm.errors import Conflict, StaleVersion
from crm.models import Company, Contact
from leads import services as lead_services
from leads.models import Lead, LeadStatus
from pipeline import services
from pipeline.activities import activity_complete, activity_log
from pipeline.forms import DealMoveForm
from pipeline.models import (
    STAGE_ORDER,
    WIN_FROM,
    Activity,
    ActivityKind,
    Deal,
    DealStatus,
    Outcome,
    Stage,
    StageChange,
)
from workspace import search as global_search
from workspace import tasks, timeline
from workspace.forms import (
    ActivityForm,
    CompleteForm,
    ConvertForm,
    DisqualifyForm,
    LeadDecisionForm,
    LoseForm,
    NoteForm,
    QualifyForm,
    ReopenForm,
    TaskForm,
    VersionForm,
)
from workspace.today import today_for


def sales_user_required(view: Callable) -> Callable:
    """Send anonymous users to log in; refuse users who are not in sales."""

    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not policy.is_sales_user(request.user):
            raise PermissionDenied
        response = view(request, *args, **kwargs)
        if (
            request.htmx
            and request.method == "POST"
            and not response.has_header("Location")
        ):
            # A refused form is shown again on its page: htmx must not put the
            # form's POST address in the address bar (a reload would be a 405).
            push_url(response, False)
        return response

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _next_or(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's field errors on the form's fields (or on the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


# Lazy: the module is imported once, the text is read in each reader's language.
STALE_TEXT = {
    "deal": gettext_lazy(
        "Someone changed this deal after you opened the page, so nothing was "
        "changed. This is how it is now: check it and try again."
    ),
    "lead": gettext_lazy(
        "Someone changed this lead after you opened the page, so nothing was "
        "changed. This is how it is now: check it and try again."
    ),
    "task": gettext_lazy(
        "Someone changed this task after you opened the page, so nothing was "
        "changed. This is how it is now: check it and try again."
    ),
}


def _conflict_text(exc: Conflict, record: str = "deal") -> str:
    if isinstance(exc, StaleVersion):
        return str(STALE_TEXT[record])
    return exc.message


def _record_extras(request: HttpRequest, subject: Q, bound: dict) -> dict:
    """The note and task forms every record page has, and its open tasks."""
    return {
        "note_form": bound.get("note_form") or NoteForm(),
        "task_form": bound.get("task_form") or TaskForm(user=request.user),
        "tasks": tasks.tasks_of(request.user, subject),
        "outcomes": Outcome.choices,
        "now": timezone.now(),
    }


# --- Today and search -----------------------------------------------------------


@require_GET
@sales_user_required
def today(request: HttpRequest) -> HttpResponse:
    """Show waiting leads, the user's stale deals and deals closing this month."""
    today_ = today_for(request.user)
    tasks.remember_due_count(request, today_.tasks_count)
    return render(
        request,
        "workspace/today.html",
        {"today": today_, "now": today_.now, "outcomes": Outcome.choices},
    )


@require_GET
@sales_user_required
def search(request: HttpRequest) -> HttpResponse:
    """Find leads, contacts, companies and deals in the user's scope."""
    results = global_search.search(user=request.user, query=request.GET.get("q", ""))
    return render(request, "workspace/search.html", {"results": results})


# --- leads ---------------------------------------------------------------------


def _lead(request: HttpRequest, pk: int) -> Lead:
    return get_object_or_404(
        Lead.objects.visible_to(request.user).select_related("owner", "offer"), pk=pk
    )


def _render_lead(
    request: HttpRequest, lead: Lead, *, status: int = 200, **bound: forms.Form
) -> HttpResponse:
    deal = Deal.objects.visible_to(request.user).filter(lead=lead).first()
    activities = Q(lead=lead) | Q(deal=deal) if deal else Q(lead=lead)
    extra = []
    if deal is not None and lead.converted_at:
        extra.append(
            timeline.Event(
                at=lead.converted_at,
                kind="decision",
                title=_("Converted into a deal"),
                detail=deal.title,
                link=reverse("workspace:deal", args=[deal.pk]),
            )
        )
    events = timeline.build(
        touches=lead.touches.all(),
        activities=Activity.objects.filter(activities),
        decisions=lead.qualifications.all(),
        status_changes=lead.status_changes.all(),
        stage_changes=StageChange.objects.filter(deal=deal) if deal else None,
        extra=extra,
    )
    version = {"version": lead.version}
    context = {
        "lead": lead,
        "deal": deal,
        "events": events,
        "can_decide": lead.status in lead_services.DECIDABLE,
        "can_promote": lead.status == LeadStatus.PROSPECT,
        "can_convert": lead.status == LeadStatus.QUALIFIED and deal is None,
        "activity_form": bound.get("activity_form") or ActivityForm(),
        "qualify_form": bound.get("qualify_form") or QualifyForm(initial=version),
        "disqualify_form": bound.get("disqualify_form")
        or DisqualifyForm(initial=version),
        "convert_form": bound.get("convert_form")
        or ConvertForm(
            initial={**version, "title": f"{lead.company_name or lead} deal"}
        ),
        **_record_extras(request, Q(lead=lead), bound),
    }
    return render(request, "workspace/lead.html", context, status=status)


@require_GET
@sales_user_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a lead or prospect, its actions and its timeline."""
    return _render_lead(request, _lead(request, pk))


def _lead_action(
    request: HttpRequest,
    pk: int,
    form_class: type[forms.Form],
    form_name: str,
    act: Callable[[Lead, dict], object],
    done: Callable[[Lead, object], tuple[str, str]],
) -> HttpResponse:
    """Validate ``form_class``, run ``act``; success -> message and redirect."""
    lead = _lead(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return _render_lead(request, lead, status=400, **{form_name: form})
    try:
        result = act(lead, form.cleaned_data)
    except ValidationError as exc:
        _add_errors(form, exc)
        return _render_lead(request, lead, status=400, **{form_name: form})
    except Conflict as exc:
        messages.error(request, _conflict_text(exc, "lead"))
        status = 412 if isinstance(exc, StaleVersion) else 409
        # Re-read: the page must show the lead as it is now, with its new version.
        return _render_lead(request, _lead(request, pk), status=status)
    text, target = done(lead, result)
    messages.success(request, text)
    return redirect(target)


@require_POST
@sales_user_required
def lead_log(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a call, e-mail, meeting or note against the lead."""
    return _lead_action(
        request,
        pk,
        ActivityForm,
        "activity_form",
        lambda lead, data: activity_log(by=request.user, lead=lead, **data),
        lambda lead, activity: (
            _("%(kind)s logged.") % {"kind": activity.get_kind_display()},
            reverse("workspace:lead", args=[lead.pk]),
        ),
    )


@require_POST
@sales_user_required
def lead_promote(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a prospect as a lead: they showed interest."""
    return _lead_action(
        request,
        pk,
        LeadDecisionForm,
        "promote_form",
        lambda lead, data: lead_services.lead_promote(
            lead=lead, by=request.user, expected_version=data["version"]
        ),
        lambda lead, result: (
            _("%(lead)s is now a lead.") % {"lead": lead},
            reverse("workspace:lead", args=[lead.pk]),
        ),
    )


@require_POST
@sales_user_required
def lead_qualify(request: HttpRequest, pk: int) -> HttpResponse:
    """Qualify the lead on its BANT criteria."""
    return _lead_action(
        request,
        pk,
        QualifyForm,
        "qualify_form",
        lambda lead, data: lead_services.lead_qualify(
            lead=lead, by=request.user, expected_version=data.pop("version"), **data
        ),
        lambda lead, result: (
            _("%(lead)s is qualified (score %(score)d).")
            % {"lead": lead, "score": result.score},
            reverse("workspace:lead", args=[lead.pk]),
        ),
    )


@require_POST
@sales_user_required
def lead_disqualify(request: HttpRequest, pk: int) -> HttpResponse:
    """Disqualify the lead for a listed reason."""
    return _lead_action(
        request,
        pk,
        DisqualifyForm,
        "disqualify_form",
        lambda lead, data: lead_services.lead_disqualify(
            lead=lead, by=request.user, expected_version=data.pop("version"), **data
        ),
        lambda lead, result: (
            _("%(lead)s is disqualified.") % {"lead": lead},
            reverse("workspace:lead", args=[lead.pk]),
        ),
    )


@require_POST
@sales_user_required
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    """Convert the qualified lead with its amount and close date; open the deal."""

    def convert(lead: Lead, data: dict) -> Deal:
        return services.lead_convert(
            lead=lead,
            by=request.user,
            title=data["title"] or None,
            amount=data["amount"],
            currency=data["currency"],
            expected_close_on=data["expected_close_on"],
            expected_version=data["version"],
        )

    return _lead_action(
        request,
        pk,
        ConvertForm,
        "convert_form",
        convert,
        lambda lead, deal: (
            _("%(lead)s is converted: this is the new deal.") % {"lead": lead},
            reverse("workspace:deal", args=[deal.pk]),
        ),
    )


# --- deals ---------------------------------------------------------------------


def _deal(request: HttpRequest, pk: int) -> Deal:
    return get_object_or_404(
        Deal.objects.visible_to(request.user)
        .with_staleness()
        .select_related("owner", "company", "contact", "lead"),
        pk=pk,
    )


def _next_stage(deal: Deal) -> str:
    index = STAGE_ORDER.index(Stage(deal.stage))
    return STAGE_ORDER[min(index + 1, len(STAGE_ORDER) - 1)].value


def _render_deal(
    request: HttpRequest, deal: Deal, *, status: int = 200, **bound: forms.Form
) -> HttpResponse:
    activities = Q(deal=deal)
    decisions = None
    touches = None
    if deal.lead_id:
        # The lead's history is the deal's beginning: show it on the same page.
        activities |= Q(lead_id=deal.lead_id)
        decisions = deal.lead.qualifications.all()
        touches = deal.lead.touches.all()
    events = timeline.build(
        touches=touches,
        activities=Activity.objects.filter(activities),
        decisions=decisions,
        stage_changes=deal.stage_changes.all(),
    )
    version = {"version": deal.version}
    is_open = deal.status == DealStatus.OPEN
    move_form = bound.get("move_form")
    if move_form is None:
        move_form = DealMoveForm(initial={**version, "stage": _next_stage(deal)})
        # Moving to the stage it is in is refused anyway: do not offer it.
        move_form.fields["stage"].choices = [
            (value, label) for value, label in Stage.choices if value != deal.stage
        ]
    context = {
        "deal": deal,
        "events": events,
        "is_open": is_open,
        "can_win": is_open and deal.stage in WIN_FROM,
        "activity_form": bound.get("activity_form") or ActivityForm(),
        "move_form": move_form,
        "lose_form": bound.get("lose_form") or LoseForm(initial=version),
        "reopen_form": bound.get("reopen_form") or ReopenForm(initial=version),
        **_record_extras(request, Q(deal=deal), bound),
    }
    return render(request, "workspace/deal.html", context, status=status)


@require_GET
@sales_user_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a deal, its actions and its timeline (with its lead's history)."""
    return _render_deal(request, _deal(request, pk))


def _deal_action(
    request: HttpRequest,
    pk: int,
    form_class: type[forms.Form],
    form_name: str,
    act: Callable[[Deal, dict], Deal],
    done: Callable[[Deal], str],
) -> HttpResponse:
    """Validate, run the service with the page's version, redirect or re-render."""
    deal = _deal(request, pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return _render_deal(request, deal, status=400, **{form_name: form})
    try:
        deal = act(deal, form.cleaned_data)
    except ValidationError as exc:
        _add_errors(form, exc)
        return _render_deal(request, deal, status=400, **{form_name: form})
    except Conflict as exc:
        messages.error(
            request,
            _("%(deal)s: %(error)s") % {"deal": deal, "error": _conflict_text(exc)},
        )
        if request.POST.get("next"):
            return _next_or(request, reverse("workspace:deal", args=[deal.pk]))
        status = 412 if isinstance(exc, StaleVersion) else 409
        # Re-read: the page must show the deal as it is now, with its new version.
        return _render_deal(request, _deal(request, pk), status=status)
    messages.success(request, done(deal))
    return _next_or(request, reverse("workspace:deal", args=[deal.pk]))


@require_POST
@sales_user_required
def deal_log(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a call, e-mail, meeting or note against the deal."""

    def log(deal: Deal, data: dict) -> Deal:
        activity_log(by=request.user, deal=deal, **data)
        return deal

    return _deal_action(
        request, pk, ActivityForm, "activity_form", log, lambda deal: _("Logged.")
    )


@require_POST
@sales_user_required
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the deal to another stage."""
    return _deal_action(
        request,
        pk,
        DealMoveForm,
        "move_form",
        lambda deal, data: services.deal_move(
            deal=deal,
            to_stage=data["stage"],
            by=request.user,
            expected_version=data["version"],
        ),
        lambda deal: (
            _("%(deal)s moved to %(stage)s.")
            % {"deal": deal, "stage": Stage(deal.stage).label}
        ),
    )


@require_POST
@sales_user_required
def deal_win(request: HttpRequest, pk: int) -> HttpResponse:
    """Close the deal as won."""
    return _deal_action(
        request,
        pk,
        VersionForm,
        "win_form",
        lambda deal, data: services.deal_win(
            deal=deal, by=request.user, expected_version=data["version"]
        ),
        lambda deal: _("%(deal)s is won.") % {"deal": deal},
    )


@require_POST
@sales_user_required
def deal_lose(request: HttpRequest, pk: int) -> HttpResponse:
    """Close the deal as lost, with a reason."""
    return _deal_action(
        request,
        pk,
        LoseForm,
        "lose_form",
        lambda deal, data: services.deal_lose(
            deal=deal,
            by=request.user,
            reason=data["reason"],
            notes=data["notes"],
            expected_version=data["version"],
        ),
        lambda deal: _("%(deal)s is lost.") % {"deal": deal},
    )


@require_POST
@sales_user_required
def deal_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """Reopen a won or lost deal."""
    return _deal_action(
        request,
        pk,
        ReopenForm,
        "reopen_form",
        lambda deal, data: services.deal_reopen(
            deal=deal,
            by=request.user,
            stage=data["stage"] or None,
            expected_version=data["version"],
        ),
        lambda deal: (
            _("%(deal)s is open again, in %(stage)s.")
            % {"deal": deal, "stage": Stage(deal.stage).label}
        ),
    )


# --- companies and contacts ------------------------------------------------------


def _company(request: HttpRequest, pk: int) -> Company:
    return get_object_or_404(
        Company.objects.visible_to(request.user).select_related("owner"), pk=pk
    )


def _render_company(
    request: HttpRequest, company: Company, *, status: int = 200, **bound
) -> HttpResponse:
    deals = Deal.objects.visible_to(request.user).filter(company=company)
    contacts = Contact.objects.visible_to(request.user).filter(company=company)
    events = timeline.build(
        activities=Activity.objects.visible_to(request.user).filter(
            Q(company=company) | Q(contact__in=contacts) | Q(deal__in=deals)
        ),
        stage_changes=StageChange.objects.filter(deal__in=deals),
    )
    return render(
        request,
        "workspace/company.html",
        {
            "company": company,
            "contacts": list(contacts.order_by("last_name", "first_name")[:50]),
            "deals": list(deals.order_by("-created_at")[:50]),
            "events": events,
            **_record_extras(request, Q(company=company), bound),
        },
        status=status,
    )


@require_GET
@sales_user_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a company, its contacts, its deals in scope and their timeline."""
    return _render_company(request, _company(request, pk))


def _contact(request: HttpRequest, pk: int) -> Contact:
    return get_object_or_404(
        Contact.objects.visible_to(request.user).select_related("company", "owner"),
        pk=pk,
    )


def _render_contact(
    request: HttpRequest, contact: Contact, *, status: int = 200, **bound
) -> HttpResponse:
    deals = Deal.objects.visible_to(request.user).filter(contact=contact)
    events = timeline.build(
        activities=Activity.objects.visible_to(request.user).filter(
            Q(contact=contact) | Q(deal__in=deals)
        ),
        stage_changes=StageChange.objects.filter(deal__in=deals),
    )
    return render(
        request,
        "workspace/contact.html",
        {
            "contact": contact,
            "deals": list(deals.order_by("-created_at")[:50]),
            "events": events,
            "activity_form": bound.get("activity_form") or ActivityForm(),
            **_record_extras(request, Q(contact=contact), bound),
        },
        status=status,
    )


@require_GET
@sales_user_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a contact, their deals in scope and the timeline."""
    return _render_contact(request, _contact(request, pk))


@require_POST
@sales_user_required
def contact_log(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a call, e-mail, meeting or note with the contact."""
    contact = _contact(request, pk)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            activity_log(by=request.user, contact=contact, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Logged."))
            return redirect("workspace:contact", pk=contact.pk)
    return _render_contact(request, contact, status=400, activity_form=form)


# --- notes and tasks on any record ------------------------------------------------

# Per kind of record: how to read one in scope and how to render its page.
RECORDS: dict[str, tuple[Callable, Callable]] = {
    "lead": (_lead, _render_lead),
    "deal": (_deal, _render_deal),
    "company": (_company, _render_company),
    "contact": (_contact, _render_contact),
}


def _record_action(
    request: HttpRequest,
    kind: str,
    pk: int,
    form: forms.Form,
    form_name: str,
    act: Callable[[object, forms.Form], object],
    done: str,
) -> HttpResponse:
    read, render_page = RECORDS[kind]
    record = read(request, pk)
    if form.is_valid():
        try:
            act(record, form)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect(f"workspace:{kind}", pk=pk)
    return render_page(request, record, status=400, **{form_name: form})


@require_POST
@sales_user_required
def record_note(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Add a note to a lead, deal, company or contact."""
    return _record_action(
        request,
        kind,
        pk,
        NoteForm(request.POST),
        "note_form",
        lambda record, form: activity_log(
            by=request.user,
            kind=ActivityKind.NOTE,
            notes=form.cleaned_data["notes"],
            **{kind: record},
        ),
        _("Note added."),
    )


@require_POST
@sales_user_required
def record_plan(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Plan a task on a lead, deal, company or contact."""
    return _record_action(
        request,
        kind,
        pk,
        TaskForm(request.POST, user=request.user),
        "task_form",
        lambda record, form: activity_log(
            by=request.user, **form.task(), **{kind: record}
        ),
        _("Task planned."),
    )


def _task_home(task: Activity) -> str:
    """Return the page of the record a task is about."""
    for kind in ("deal", "lead", "contact", "company"):
        pk = getattr(task, f"{kind}_id")
        if pk is not None:
            return reverse(f"workspace:{kind}", args=[pk])
    return reverse("workspace:today")


@require_POST
@sales_user_required
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a task done: it is logged as having happened now."""
    task = get_object_or_404(Activity.objects.visible_to(request.user), pk=pk)
    form = CompleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This task could not be completed: reload the page."))
        return _next_or(request, _task_home(task))
    try:
        activity_complete(
            activity=task,
            by=request.user,
            outcome=form.cleaned_data["outcome"],
            expected_version=form.cleaned_data["version"],
        )
    except (ValidationError, Conflict, PermissionDenied) as exc:
        text = (
            exc.message
            if isinstance(exc, Conflict)
            else " ".join(getattr(exc, "messages", [str(exc)]))
        )
        if isinstance(exc, StaleVersion):
            text = _conflict_text(exc, "task")
        messages.error(request, text)
    else:
        messages.success(
            request, _("%(task)s done and logged.") % {"task": task.get_kind_display()}
        )
    return _next_or(request, _task_home(task))
