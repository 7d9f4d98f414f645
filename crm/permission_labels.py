"""Permissions named in the reader's language in the admin's pickers.

Django writes a permission's name into the database once, in English ("Can
add subscription"), so its French admin lists "Can add subscription" under a
French app and model name. The four permissions Django creates for every model
are recognised by their codename and named again, with the model's translated
name (the English reads as Django's); a permission a model declares itself
keeps its stored name.
"""

from django import forms
from django.contrib.auth.models import Permission
from django.utils.translation import gettext_lazy as _

BUILTIN_ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def permission_label(permission: Permission) -> str:
    """Return "app | model | action" in the active language."""
    content_type = permission.content_type
    action, _sep, model_name = permission.codename.partition("_")
    model = content_type.model_class()
    builtin = model is not None and model_name == model._meta.model_name
    if action not in BUILTIN_ACTIONS or not builtin:
        return str(permission)
    name = BUILTIN_ACTIONS[action] % {"model": model._meta.verbose_name}
    return f"{content_type} | {name}"


class PermissionLabelsMixin:
    """For a ModelAdmin with a permissions picker (users', groups')."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if isinstance(field, forms.ModelMultipleChoiceField) and (
            field.queryset.model is Permission
        ):
            field.label_from_instance = permission_label
        return field
