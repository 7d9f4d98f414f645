"""Who may do what: every access decision of the CRM, in one module.

The rule, role by role:

- a **rep** sees and changes the records they own;
- a **manager** those owned by themselves and by the members of the teams they
  manage;
- an **integration** user and an **admin** (a superuser) everything;
- companies and contacts are a shared address book: every sales user reads them,
  the owner's scope changes them.

Records that carry history (leads, deals, activities, subscriptions, stage
changes, qualifications, touches) are never deleted by reps or managers; an admin
deletes only a lead nothing refers to yet. Companies and contacts are deleted by
their owner, the owner's manager or an admin, while nothing refers to them (the
foreign keys to them are ``PROTECT``).

Model querysets' ``visible_to``, the services, the serializers and filters, the
admin, the board, the dashboard and the KPI views all call these functions;
nothing else compares roles. This module imports no model at import time
(``crm.models`` imports it for ``Role``), and names the other apps' models by
their label only, so that the dependency order ``crm <- leads <- pipeline <-
metrics`` holds.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import QuerySet

    from crm.models import Team, User

    AnyUser = User | AnonymousUser


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    MANAGER = "manager", _("Sales manager")
    INTEGRATION = "integration", _("Integration")


NOTHING = Q(pk__in=[])

# The path from each owned record to the user whose scope it falls in.
OWNER_PATHS: dict[str, str] = {
    "crm.company": "owner",
    "crm.contact": "owner",
    "crm.subscription": "company__owner",
    "crm.mrrmovement": "company__owner",
    "leads.lead": "owner",
    "leads.prospect": "owner",
    "leads.touch": "lead__owner",
    "leads.qualification": "lead__owner",
    "leads.leadstatuschange": "lead__owner",
    # An import is its uploader's: a rep sees their own, a manager their teams'.
    "leads.leadimport": "created_by",
    # Jobs a user started: theirs alone (see ``job_scope``).
    "crm.exportjob": "requested_by",
    "crm.actionjob": "requested_by",
    "pipeline.deal": "owner",
    "pipeline.stagechange": "deal__owner",
    "pipeline.activity": "owner",
    "workspace.savedview": "owner",
}
# A user's own tools, read and changed by that user only (not by a manager).
PERSONAL = frozenset({"workspace.savedview"})
# Background jobs a request started: their requester's, and admins' (job_scope).
REQUESTED_JOBS = frozenset({"crm.exportjob", "crm.actionjob"})
# Every sales user reads these; the owner's scope changes them.
ADDRESS_BOOK = frozenset({"crm.company", "crm.contact"})
# Records that carry history: never deleted by reps or managers.
HISTORY = frozenset(
    {
        "crm.subscription",
        "crm.mrrmovement",
        "leads.lead",
        "leads.prospect",
        "leads.touch",
        "leads.qualification",
        "leads.leadstatuschange",
        "pipeline.deal",
        "pipeline.stagechange",
        "pipeline.activity",
    }
)
# History records an admin may delete (a lead entered by mistake), and only while
# no other record refers to it: its touches, decisions, activities and deal are
# ``PROTECT``. Deals always have a stage change; the others are append-only.
ADMIN_DELETABLE_HISTORY = frozenset({"leads.lead", "leads.prospect"})
# Records that append-only history rows are: nobody changes them.
APPEND_ONLY = frozenset(
    {
        "crm.mrrmovement",
        "leads.touch",
        "leads.qualification",
        "leads.leadstatuschange",
        "pipeline.stagechange",
        # Written by its import job only (leads.import_jobs).
        "leads.leadimport",
        # Written by their jobs only (crm.export_jobs, crm.action_jobs).
        "crm.exportjob",
        "crm.actionjob",
    }
)


class KpiScope(enum.StrEnum):
    """What a KPI figure is computed over."""

    ORGANISATION = "organisation"
    TEAM = "team"
    REP = "rep"


def _label(model_or_obj: Any) -> str:
    return model_or_obj._meta.label_lower


def _owner_path(label: str) -> str:
    try:
        return OWNER_PATHS[label]
    except KeyError:
        # A new model reached an access check without a rule: fail loudly.
        msg = f"crm.policy has no access rule for {label}."
        raise ImproperlyConfigured(msg) from None


# --- who the user is ----------------------------------------------------------


def is_active(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_admin(user: AnyUser | None) -> bool:
    """Return True for an active superuser."""
    return is_active(user) and user.is_superuser


def is_manager(user: AnyUser | None) -> bool:
    return is_active(user) and not user.is_superuser and user.role == Role.MANAGER


def is_rep(user: AnyUser | None) -> bool:
    return is_active(user) and not user.is_superuser and user.role == Role.REP


def is_integration(user: AnyUser | None) -> bool:
    return is_active(user) and not user.is_superuser and user.role == Role.INTEGRATION


def sees_everything(user: AnyUser | None) -> bool:
    """Return True for admins and integrations, whose scope is the whole CRM."""
    return is_admin(user) or is_integration(user)


def is_sales_user(user: AnyUser | None) -> bool:
    """Return True for any active CRM user: rep, manager, integration or admin."""
    return is_active(user) and (user.is_superuser or user.role in Role.values)


def is_sales_staff(user: AnyUser | None) -> bool:
    """Return True for a sales user who may open the admin."""
    return is_sales_user(user) and user.is_staff


# --- which records a user sees ------------------------------------------------


def owner_scope(user: AnyUser | None, owner_field: str) -> Q:
    """Return the filter on records whose ``owner_field`` is in ``user``'s scope."""
    if sees_everything(user):
        return Q()
    if is_manager(user):
        # ``owner IN (the manager and their teams' members)`` rather than a join
        # with an OR: the planner can then use the (owner, ...) indexes.
        return Q(**{f"{owner_field}__in": _managed_user_ids(user)})
    if is_rep(user):
        return Q(**{owner_field: user.pk})
    return NOTHING


def _managed_user_ids(manager: User):
    return (
        get_user_model()
        .objects.filter(Q(pk=manager.pk) | Q(team__manager=manager))
        .values("pk")
    )


def visible_scope(user: AnyUser | None, model: type[models.Model]) -> Q:
    """Return the filter on the records of ``model`` that ``user`` may read."""
    label = _label(model)
    if label in ADDRESS_BOOK:
        return Q() if is_sales_user(user) else NOTHING
    if label == "metrics.kpitarget":
        return kpi_target_scope(user)
    if label == "crm.webhookendpoint":
        return webhook_endpoint_scope(user)
    if label in REQUESTED_JOBS:
        return job_scope(user, label)
    if label in PERSONAL:
        return _personal_scope(user, label)
    return owner_scope(user, _owner_path(label))


def job_scope(user: AnyUser | None, label: str) -> Q:
    """Return the filter on the exports or bulk actions ``user`` sees.

    An export holds what its requester saw when they asked: a manager is not
    shown their reps' files (nor their bulk actions), nor one integration
    another's. Admins see every job, failures included, as they see every
    other job's.
    """
    if is_admin(user):
        return Q()
    if is_sales_user(user):
        return Q(**{_owner_path(label): user.pk})
    return NOTHING


def _personal_scope(user: AnyUser | None, label: str) -> Q:
    if not is_sales_user(user):
        return NOTHING
    return Q(**{_owner_path(label): user})


def visible(user: AnyUser | None, queryset: QuerySet) -> QuerySet:
    """Return the rows of ``queryset`` that ``user`` may read."""
    return queryset.filter(visible_scope(user, queryset.model))


def may_see(user: AnyUser | None, obj: models.Model) -> bool:
    """Return whether ``user`` may read ``obj`` (one query unless trivially)."""
    scope = visible_scope(user, type(obj))
    if scope == NOTHING:
        return False
    if scope == Q():
        return True
    return type(obj)._default_manager.filter(scope, pk=obj.pk).exists()


def visible_owners(user: AnyUser | None) -> QuerySet[User]:
    """Return the users whose owned records ``user`` sees (filters by owner)."""
    return get_user_model().objects.filter(owner_scope(user, "pk"))


def scope_snapshot(user: AnyUser | None) -> list[int] | None:
    """Return the ids of the users whose records ``user`` sees now (None: all).

    A background job working for ``user`` later (a CSV export) narrows its rows
    with it (``within_snapshot``), so that a promotion or a new team member
    between the request and the job widens nothing.
    """
    if sees_everything(user):
        return None
    return sorted(visible_owners(user).values_list("pk", flat=True))


def within_snapshot(queryset: QuerySet, owner_ids: list[int] | None) -> QuerySet:
    """Narrow ``queryset`` to the owned records of a ``scope_snapshot``."""
    label = _label(queryset.model)
    if owner_ids is None or label in ADDRESS_BOOK:
        return queryset
    return queryset.filter(**{f"{_owner_path(label)}__in": owner_ids})


# --- whom a user may assign records to ----------------------------------------


def assignable_owners(user: AnyUser | None) -> QuerySet[User]:
    """Return the active users ``user`` may make the owner of a record.

    A rep assigns to themselves, a manager to themselves and their teams'
    members, admins and integrations to anyone active.
    """
    users = get_user_model().objects.filter(is_active=True)
    if sees_everything(user):
        return users
    if is_manager(user):
        return users.filter(Q(pk=user.pk) | Q(team__manager=user))
    if is_rep(user):
        return users.filter(pk=user.pk)
    return users.none()


def may_assign(user: AnyUser | None, owner: User) -> bool:
    """Return whether ``user`` may make ``owner`` the owner of a record.

    Owning what one creates is the common case of every write: answered from
    the authenticated user in memory (``assignable_owners`` holds every
    seller, manager or not, who is active), without a query.
    """
    if user is not None and user.is_authenticated and owner.pk == user.pk:
        return user.is_active and (
            sees_everything(user) or is_manager(user) or is_rep(user)
        )
    return assignable_owners(user).filter(pk=owner.pk).exists()


def default_owner(user: AnyUser | None) -> User | None:
    """Return who owns what ``user`` creates without naming an owner.

    Reps and managers own it themselves; integrations and admins must choose.
    """
    return user if is_rep(user) or is_manager(user) else None


def board_owner_choices(user: AnyUser | None) -> QuerySet[User]:
    """Return the sellers whose board ``user`` may pick (none for a rep)."""
    if not (is_manager(user) or sees_everything(user)):
        return get_user_model().objects.none()
    return assignable_owners(user).filter(role__in=[Role.REP, Role.MANAGER])


# --- who may change what ------------------------------------------------------


def changeable_scope(user: AnyUser | None, model: type[models.Model]) -> Q:
    """Return the filter on the records of ``model`` that ``user`` may change."""
    label = _label(model)
    if label in APPEND_ONLY or not is_sales_user(user):
        return NOTHING
    if label == "metrics.kpitarget":
        return target_change_scope(user)
    if label == "crm.webhookendpoint":
        return webhook_endpoint_scope(user)
    if label in PERSONAL:
        return _personal_scope(user, label)
    return owner_scope(user, _owner_path(label))


def may_change(user: AnyUser | None, obj: models.Model) -> bool:
    """Return whether ``user`` may change ``obj`` (also: act on it)."""
    scope = changeable_scope(user, type(obj))
    if scope == NOTHING:
        return False
    if scope == Q():
        return True
    return type(obj)._default_manager.filter(scope, pk=obj.pk).exists()


def changeable(user: AnyUser | None, queryset: QuerySet) -> QuerySet:
    """Return the rows of ``queryset`` that ``user`` may change."""
    return queryset.filter(changeable_scope(user, queryset.model))


def may_reassign(user: AnyUser | None, record: models.Model, to: User) -> bool:
    """Return whether ``user`` may give ``record`` (a lead, a deal) to ``to``."""
    return may_change(user, record) and may_assign(user, to)


def may_convert(user: AnyUser | None, lead: models.Model) -> bool:
    """Return whether ``user`` may convert ``lead`` into a deal."""
    return may_change(user, lead)


def may_end_subscription(user: AnyUser | None, subscription: models.Model) -> bool:
    """Return whether ``user`` may end ``subscription`` (its company's scope)."""
    return may_change(user, subscription)


def may_edit_offers(user: AnyUser | None) -> bool:
    """Return whether ``user`` may add or change content offers."""
    return is_manager(user) or sees_everything(user)


def may_edit_stage_settings(user: AnyUser | None) -> bool:
    return is_admin(user)


# --- who may delete what ------------------------------------------------------


def may_delete(user: AnyUser | None, obj: models.Model | None = None, *, model=None):
    """Return whether ``user`` may delete ``obj`` (or, without one, any ``model``).

    Whether other records still refer to it is the database's ``PROTECT`` to
    decide (``deletion_blockers`` words it).
    """
    model = type(obj) if obj is not None else model
    label = _label(model)
    if label in HISTORY:
        return label in ADMIN_DELETABLE_HISTORY and is_admin(user)
    if label in ADDRESS_BOOK:
        if not (is_rep(user) or is_manager(user) or is_admin(user)):
            return False
        return obj is None or may_change(user, obj)
    if label == "leads.contentoffer":
        return is_admin(user)
    if label == "metrics.kpitarget":
        if obj is None:
            return may_set_targets(user)
        return may_set_target(user, team=obj.team, owner=obj.owner)
    if label == "crm.webhookendpoint":
        return may_manage_webhooks(user) and (obj is None or may_change(user, obj))
    if label in PERSONAL:
        return is_sales_user(user) and (obj is None or may_change(user, obj))
    return False


def deletion_blockers(obj: models.Model) -> list[str]:
    """Return what still refers to ``obj`` and forbids deleting it, e.g. "2 deals"."""
    blockers = []
    for relation in obj._meta.related_objects:
        if relation.on_delete is not models.PROTECT or relation.many_to_many:
            continue
        count = relation.related_model._base_manager.filter(
            **{relation.field.name: obj}
        ).count()
        if count:
            meta = relation.related_model._meta
            name = meta.verbose_name if count == 1 else meta.verbose_name_plural
            blockers.append(f"{count} {name}")
    return blockers


# --- KPI targets --------------------------------------------------------------


def kpi_target_scope(user: AnyUser | None) -> Q:
    """Return the filter on the KPI targets ``user`` may read.

    Admins and integrations read all; a manager the organisation's, their
    teams' and their reps' (and their own); a rep only their own.
    """
    if sees_everything(user):
        return Q()
    if is_manager(user):
        return (
            Q(team__isnull=True, owner__isnull=True)
            | Q(team__manager=user)
            | owner_scope(user, "owner")
        )
    if is_rep(user):
        return Q(owner=user)
    return NOTHING


def target_change_scope(user: AnyUser | None) -> Q:
    """Return the filter on the KPI targets ``user`` may change or delete."""
    if is_admin(user):
        return Q()
    if is_manager(user):
        return Q(team__manager=user) | Q(owner__team__manager=user)
    return NOTHING


def may_set_targets(user: AnyUser | None) -> bool:
    """Return whether ``user`` sets any KPI target at all (managers and admins)."""
    return is_admin(user) or is_manager(user)


def may_set_target(
    user: AnyUser | None, *, team: Team | None, owner: User | None
) -> bool:
    """Return whether ``user`` may set a target for this scope.

    Admins set any target, managers those of the teams they manage and of
    those teams' reps; nobody else sets targets. ``owner.team`` is read.
    """
    if is_admin(user):
        return True
    if not is_manager(user):
        return False
    if owner is not None:
        return owner.team is not None and owner.team.manager_id == user.pk
    return team is not None and team.manager_id == user.pk


def target_teams(user: AnyUser | None) -> QuerySet[Team]:
    """Return the teams ``user`` may set targets for."""
    teams = apps.get_model("crm", "Team").objects.all()
    if is_admin(user):
        return teams
    if is_manager(user):
        return teams.filter(manager=user)
    return teams.none()


def target_owners(user: AnyUser | None) -> QuerySet[User]:
    """Return the reps ``user`` may set targets for."""
    users = get_user_model().objects.all()
    if is_admin(user):
        return users
    if is_manager(user):
        return users.filter(team__manager=user)
    return users.none()


# --- KPIs ---------------------------------------------------------------------


def kpi_scopes(user: AnyUser | None) -> frozenset[KpiScope]:
    """Return the kinds of KPI scope ``user`` may read."""
    if sees_everything(user) or is_manager(user):
        return frozenset(KpiScope)
    if is_rep(user):
        # A rep's unfiltered KPIs are their own records' (the organisation's
        # figures narrowed by ``owner_scope``).
        return frozenset({KpiScope.ORGANISATION, KpiScope.REP})
    return frozenset()


def kpi_teams(user: AnyUser | None) -> QuerySet[Team]:
    """Return the teams whose KPIs ``user`` may read."""
    teams = apps.get_model("crm", "Team").objects.all()
    if sees_everything(user):
        return teams
    if is_manager(user):
        return teams.filter(manager=user)
    return teams.none()


def kpi_owners(user: AnyUser | None) -> QuerySet[User]:
    """Return the users whose own KPIs ``user`` may read."""
    return visible_owners(user)


def kpi_owner_choices(user: AnyUser | None) -> QuerySet[User]:
    """Return the people the dashboard offers: the reps in scope and oneself."""
    if not is_active(user):
        return get_user_model().objects.none()
    return assignable_owners(user).filter(Q(role=Role.REP) | Q(pk=user.pk))


def may_read_kpis(
    user: AnyUser | None, *, team: Team | None = None, owner: User | None = None
) -> bool:
    """Return whether ``user`` may read the KPIs of this segment."""
    scopes = kpi_scopes(user)
    if team is not None:
        return KpiScope.TEAM in scopes and (
            sees_everything(user) or team.manager_id == user.pk
        )
    if owner is not None:
        if KpiScope.REP not in scopes:
            return False
        if sees_everything(user) or owner.pk == user.pk:
            return True
        return is_manager(user) and (
            owner.team is not None and owner.team.manager_id == user.pk
        )
    return KpiScope.ORGANISATION in scopes


# --- webhooks -----------------------------------------------------------------


def may_manage_webhooks(user: AnyUser | None) -> bool:
    """Return whether ``user`` may list and create webhook endpoints."""
    return sees_everything(user)


def webhook_endpoint_scope(user: AnyUser | None) -> Q:
    """Return the filter on the webhook endpoints ``user`` sees and changes.

    An endpoint belongs to the user who created it: an integration manages its
    own, admins all.
    """
    if is_admin(user):
        return Q()
    if is_integration(user):
        return Q(created_by=user)
    return NOTHING


# --- what an out-of-scope id is told ------------------------------------------


def does_not_exist(pk: object) -> str:
    """Return the message of an id out of scope: DRF's for an id that does not exist.

    Out-of-scope records are answered as if they did not exist, so that ids
    cannot be probed.
    """
    return f'Invalid pk "{pk}" - object does not exist.'
