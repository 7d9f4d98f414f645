"""Admin writes through services, with refusals shown on the form.

Django's admin validates the form, then calls ``save_model`` and reports
success (a message and a LogEntry) whatever ``save_model`` does. So the write
happens while the form validates (``_post_clean``, after the model's own
checks): a service's ``ValidationError`` becomes the errors of the fields it
names, a ``Conflict`` or ``PermissionDenied`` an error of the whole form, and
the page is shown again with nothing saved and nothing logged. ``save_model``
then only picks up the saved record.

The admins using it have read-only inlines, so the form is the whole change.

A change form also carries the version of the record it showed (a hidden
``seen_version``): if someone else saved the record meanwhile, the save is
refused with a form error instead of writing the values this page showed over
theirs (the admin's form, rebuilt at POST time, would otherwise take every
field the other writer changed as changed back by this one).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import model_format_dict
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm import action_jobs
from crm.errors import Conflict, constraint_violation
from crm.versioning import lock_version, record_update

SEEN_VERSION = "seen_version"


def is_versioned(model: type[models.Model]) -> bool:
    return any(f.name == "version" for f in model._meta.concrete_fields)


def add_service_error(form, exc: Exception) -> None:
    """Put a service's refusal on the form: on its fields, else on the form."""
    if isinstance(exc, Conflict):
        form.add_error(None, exc.message)
        return
    if isinstance(exc, PermissionDenied):
        form.add_error(None, str(exc) or _("You may not make this change."))
        return
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        if field in form.fields:
            form.add_error(field, errors)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, errors)
        else:  # a field this form does not show (read-only, or derived)
            form.add_error(None, [f"{field}: {message}" for message in errors])


def refusal_text(exc: Exception) -> str:
    """Return a service refusal as one line of text for an admin message."""
    if isinstance(exc, Conflict):
        return exc.message
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(
                message if field == NON_FIELD_ERRORS else f"{field}: {message}"
                for field, errors in exc.message_dict.items()
                for message in errors
            )
        return " ".join(exc.messages)
    return str(exc) or _("You may not make this change.")


REFUSALS = (Conflict, ValidationError, PermissionDenied)
# Records an action's intermediate form lists by name.
SHOWN_ON_FORM = 50


def selection_context(request, queryset) -> dict:
    """Return what an action's intermediate form shows and posts back.

    "Select all" over a whole changelist stays ``select_across`` (one field:
    thousands of ids would pass the request's parameter limit), and the page
    names the first records only.
    """
    count = queryset.count()
    shown = list(queryset[:SHOWN_ON_FORM])
    return {
        "queryset": queryset,
        "select_across": request.POST.get("select_across") == "1",
        "count": count,
        "shown": shown,
        "more": count - len(shown),
    }


def run_on_each(modeladmin, request, queryset, done_text, call) -> int:
    """Call ``call(obj)`` per selected row; report each refusal and the successes.

    A refusal is an error message naming the record; the success message
    appears only if something was done: ``done_text`` is an ``ngettext_lazy``
    with a ``%(count)d`` placeholder, so it agrees with the count in every
    language. Return how many were done.

    More rows than ``ADMIN_ACTION_SYNC_MAX_ROWS`` are handed to a background
    job (``crm.action_jobs``), which calls this again, record by record.
    """
    job = getattr(request, action_jobs.JOB_ATTR, None)
    if job is not None:
        return _run_in_job(job, modeladmin, request, queryset, done_text, call)
    if action_jobs.too_many(request, queryset):
        _hand_to_job(modeladmin, request)
        return 0
    done = 0
    for obj in queryset:
        try:
            with transaction.atomic():
                call(obj)
            done += 1
        except REFUSALS as exc:
            modeladmin.message_user(request, _refusal(obj, exc), messages.ERROR)
    if done:
        modeladmin.message_user(request, done_text % {"count": done}, messages.SUCCESS)
    return done


def _refusal(obj, exc: Exception) -> str:
    return _("%(record)s: %(error)s") % {"record": obj, "error": refusal_text(exc)}


def _hand_to_job(modeladmin, request) -> None:
    action = modeladmin.get_actions(request).get(request.POST.get("action", ""))
    job = action_jobs.action_start(
        request=request,
        modeladmin=modeladmin,
        description=action[2] % model_format_dict(modeladmin.opts) if action else "",
    )
    modeladmin.message_user(
        request,
        format_html(
            '{} <a href="{}">{}</a>',
            _("More than %(count)d records: the action runs in the background.")
            % {"count": settings.ADMIN_ACTION_SYNC_MAX_ROWS},
            reverse("admin:crm_actionjob_change", args=[job.pk]),
            _("Follow its progress."),
        ),
        messages.INFO,
    )


def _run_in_job(job, modeladmin, request, queryset, done_text, call) -> int:
    # Each record in its own transaction with the job's cursor, so a retried
    # job resumes after the last record done (crm.action_jobs).
    done = 0
    for obj in action_jobs.remaining(job, queryset).iterator(chunk_size=500):
        try:
            with transaction.atomic():
                call(obj)
                action_jobs.advance(job, obj, done=True)
            done += 1
        except REFUSALS as exc:
            action_jobs.advance(job, obj, done=False, refusal=_refusal(obj, exc))
    job.refresh_from_db(fields=["done"])
    if job.done:
        modeladmin.message_user(
            request, done_text % {"count": job.done}, messages.SUCCESS
        )
    return done


def changed_fields(obj: models.Model, form) -> dict[str, Any]:
    """Return the model fields the form changed, with their new values."""
    concrete = {f.name for f in obj._meta.concrete_fields}
    return {name: getattr(obj, name) for name in form.changed_data if name in concrete}


class ServiceAdminMixin:
    """Run the admin's write while its form validates (see the module doc).

    Override ``apply_form`` to call a service; the default adds the record as
    the form built it and changes only the fields the form changed, under the
    row lock, so a concurrent change of other fields is kept.
    """

    def apply_form(self, request, obj, form, change: bool) -> models.Model:
        """Write what the form says; return the saved record."""
        if not change:
            obj.save()
            return obj
        return record_update(obj, changes=changed_fields(obj, form))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not is_versioned(self.model):
            return fieldsets
        if not self.has_change_permission(request, obj):
            # A read-only page sends nothing back: the field would show as an
            # English "Seen version: None" row.
            return [
                (
                    name,
                    {
                        **options,
                        "fields": [f for f in options["fields"] if f != SEEN_VERSION],
                    },
                )
                for name, options in fieldsets
            ]
        # The hidden field rides in the last fieldset (the admin renders a
        # hidden field's row hidden), so every change form sends it back.
        *head, (name, options) = fieldsets
        fields = [*options["fields"], SEEN_VERSION]
        return [*head, (name, {**options, "fields": fields})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and is_versioned(self.model):
            kwargs.setdefault(
                "form",
                type(
                    self.form.__name__,
                    (self.form,),
                    {
                        SEEN_VERSION: forms.IntegerField(
                            widget=forms.HiddenInput,
                            required=False,
                            initial=obj.version,
                        )
                    },
                ),
            )
        base = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(base):
            saved = None

            @property
            def changed_data(self):
                # The version read is no change of the record (nor of its log).
                return [n for n in super().changed_data if n != SEEN_VERSION]

            def _post_clean(self):
                super()._post_clean()
                if self._errors:
                    return
                try:
                    with transaction.atomic():
                        seen = self.cleaned_data.get(SEEN_VERSION)
                        if change and seen is not None:
                            # Checked under the row lock the write then reuses.
                            lock_version(self.instance, seen)
                        self.saved = model_admin.apply_form(
                            request, self.instance, self, change
                        )
                except (Conflict, ValidationError, PermissionDenied) as exc:
                    add_service_error(self, exc)
                except IntegrityError as exc:
                    # A concurrent write got there first (validation passed).
                    add_service_error(
                        self,
                        constraint_violation(exc)
                        or Conflict(_("Someone changed this meanwhile; try again.")),
                    )

        ServiceForm.__name__ = base.__name__
        return ServiceForm

    def save_model(self, request, obj, form, change) -> None:
        # Saved while the form validated; the admin's log and messages need
        # the saved row's key and values.
        saved = form.saved
        if saved is not None and saved is not obj:
            obj.pk = saved.pk
            obj._state.adding = False
            obj.refresh_from_db()
