"""Saved views: a user names, renames and deletes their own list filters."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from crm import policy
from crm.models import User
from workspace.models import SavedView


def saved_view_create(*, by: User, kind: str, name: str, query: str) -> SavedView:
    """Save a list's filters under a name (unique per user and list)."""
    if not policy.is_sales_user(by):
        raise PermissionDenied
    view = SavedView(owner=by, kind=kind, name=name.strip(), query=query)
    # Field lengths, the kind and the name's uniqueness, as field errors.
    view.full_clean()
    with transaction.atomic():
        view.save(force_insert=True)
    return view


def saved_view_rename(*, view: SavedView, by: User, name: str) -> SavedView:
    """Give a saved view another name."""
    with transaction.atomic():
        view = SavedView.objects.select_for_update().get(pk=view.pk)
        if not policy.may_change(by, view):
            raise PermissionDenied
        view.name = name.strip()
        view.full_clean()
        view.save(update_fields=["name"])
    return view


def saved_view_delete(*, view: SavedView, by: User) -> None:
    """Delete a saved view (the records it lists stay)."""
    if not policy.may_delete(by, view):
        raise PermissionDenied
    view.delete()
