"""The short forms of the record pages; the services decide, the forms only parse."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import policy
from crm.models import User
from leads.models import DisqualificationReason
from pipeline.models import ActivityKind, Direction, LostReason, Outcome, Stage


class PageForm(forms.Form):
    """A form sharing its page with others: its own id prefix keeps ids unique."""

    id_prefix = "form"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class ActivityForm(PageForm):
    """Log a call, e-mail, meeting or note in one go."""

    id_prefix = "log"

    kind = forms.ChoiceField(
        choices=ActivityKind.choices, initial=ActivityKind.CALL, label=_("What")
    )
    direction = forms.ChoiceField(
        choices=Direction.choices, initial=Direction.OUTBOUND, label=_("Direction")
    )
    outcome = forms.ChoiceField(
        choices=[("", "—"), *Outcome.choices], required=False, label=_("Outcome")
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Notes")
    )


class LeadDecisionForm(PageForm):
    """A lead action made from a page loaded at ``version`` (stale page -> refusal).

    The version is optional: a form posted without it is not checked.
    """

    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class QualifyForm(LeadDecisionForm):
    """The BANT criteria of a qualification decision."""

    id_prefix = "qualify"

    budget = forms.BooleanField(required=False, label=_("Budget"))
    authority = forms.BooleanField(required=False, label=_("Authority"))
    need = forms.BooleanField(required=False, label=_("Need"))
    timeline = forms.BooleanField(required=False, label=_("Timeline"))
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Notes")
    )


class DisqualifyForm(LeadDecisionForm):
    id_prefix = "disqualify"

    reason = forms.ChoiceField(
        choices=DisqualificationReason.choices, label=_("Reason")
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Notes")
    )


class ConvertForm(LeadDecisionForm):
    """Conversion asks for what the deal needs, so no second edit is necessary."""

    id_prefix = "convert"

    title = forms.CharField(max_length=200, required=False, label=_("Deal title"))
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, label=_("Amount")
    )
    currency = forms.CharField(
        min_length=3, max_length=3, required=False, label=_("Currency")
    )
    expected_close_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        label=_("Expected close date"),
    )

    def clean_currency(self) -> str | None:
        # Blank means the service's default currency.
        return self.cleaned_data["currency"].upper() or None


class VersionForm(PageForm):
    """A deal action made from a page loaded at ``version`` (stale page -> refusal)."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class LoseForm(VersionForm):
    id_prefix = "lose"

    reason = forms.ChoiceField(choices=LostReason.choices, label=_("Reason"))
    notes = forms.CharField(required=False, label=_("Notes"))


class ReopenForm(VersionForm):
    id_prefix = "reopen"

    stage = forms.ChoiceField(
        choices=[("", _("Where it closed")), *Stage.choices],
        required=False,
        label=_("Reopen in"),
    )


class NoteForm(PageForm):
    """A note on the record: what the rep wants the next reader to know."""

    id_prefix = "note"

    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label=_("Note")
    )


class TaskForm(PageForm):
    """Plan a call, e-mail or meeting: a task due at a day and time, for someone."""

    id_prefix = "task"

    kind = forms.ChoiceField(
        choices=[c for c in ActivityKind.choices if c[0] != ActivityKind.NOTE],
        initial=ActivityKind.CALL,
        label=_("Task"),
    )
    due_on = forms.DateField(
        # ISO whatever the language: a date input accepts nothing else.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        label=_("Due on"),
    )
    due_time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        initial=datetime.time(9, 0),
        label=_("At"),
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), label=_("For"))
    notes = forms.CharField(required=False, max_length=5000, label=_("What for"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        owners = policy.assignable_owners(user).order_by("first_name", "username")
        self.fields["owner"].queryset = owners
        self.fields["owner"].label_from_instance = lambda person: (
            person.get_full_name() or person.username
        )
        self.fields["owner"].initial = user.pk
        self.fields["due_on"].initial = timezone.localdate() + datetime.timedelta(1)

    def task(self) -> dict:
        """Return the ``activity_log`` arguments of the planned activity."""
        data = self.cleaned_data
        due_at = timezone.make_aware(
            datetime.datetime.combine(data["due_on"], data["due_time"])
        )
        return {
            "kind": data["kind"],
            "owner": data["owner"],
            "notes": data["notes"],
            "done": False,
            "due_at": due_at,
        }


class CompleteForm(PageForm):
    """Mark a task done, with what came of it."""

    id_prefix = "complete"

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    outcome = forms.ChoiceField(
        choices=[("", "—"), *Outcome.choices], required=False, label=_("Outcome")
    )
