"""The one visibility rule for owned sales records.

A rep sees and changes only the records they own, a manager those owned by the
members of the teams they manage (and their own), integration users and admins
everything. Each model's ``visible_to`` queryset method builds on this Q object,
and the admin, the API and the pages all call ``visible_to``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q

if TYPE_CHECKING:
    from crm.models import User

NOTHING = Q(pk__in=[])


def owner_scope(user: User, owner_field: str) -> Q:
    """Return the filter on records whose ``owner_field`` is in ``user``'s scope."""
    if not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.sees_everything:
        return Q()
    if user.role == "manager":
        # ``owner IN (the manager and their teams' members)`` rather than a join
        # with an OR: the planner can then use the (owner, ...) indexes.
        return Q(**{f"{owner_field}__in": _managed_user_ids(user)})
    if user.role == "rep":
        return Q(**{owner_field: user})
    return NOTHING


def _managed_user_ids(manager: User):
    from crm.models import User as UserModel

    return UserModel.objects.filter(Q(pk=manager.pk) | Q(team__manager=manager)).values(
        "pk"
    )


def assignable_owners_scope(user: User) -> Q:
    """Return the filter on users selecting who ``user`` may assign a record to."""
    if user.is_authenticated and user.sees_everything:
        return Q(is_active=True)
    if user.is_authenticated and user.role == "manager":
        return Q(is_active=True) & (Q(pk=user.pk) | Q(team__manager=user))
    if user.is_authenticated and user.role == "rep":
        return Q(pk=user.pk)
    return NOTHING
