"""Field-level writes under optimistic locking, for every ``Versioned`` record.

A write locks the row (``SELECT ... FOR UPDATE``), compares the version the
caller read (when it sent one) *after* taking the lock, sets only the fields it
names and saves them with ``update_fields``, bumping the version in the same
``UPDATE``. So two writers of different fields both keep their change, a
writer never puts back a column that a service changed meanwhile, and of two
writers holding the same version exactly one succeeds (the other gets
``StaleVersion``). ``pipeline.services`` does the same for deals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from crm.errors import StaleVersion

M = TypeVar("M", bound=models.Model)

# What a writer read: one version, any of a set (an If-Match list; an empty set
# matches nothing), or None for no condition.
ExpectedVersion = int | frozenset[int] | None


def version_matches(expected: ExpectedVersion, version: int) -> bool:
    """Return whether a record at ``version`` meets the writer's expectation."""
    if expected is None:
        return True
    if isinstance(expected, int):
        return version == expected
    return version in expected


def stale(
    model: type[models.Model], expected: ExpectedVersion, current
) -> StaleVersion:
    """Return the error of a write made from another version than ``current``'s."""
    name = model._meta.verbose_name
    if isinstance(expected, int):
        read = _("version %(version)d") % {"version": expected}
    elif expected:
        read = _("versions %(versions)s") % {
            "versions": ", ".join(map(str, sorted(expected)))
        }
    else:
        # Only weak or foreign tags: If-Match compares strongly (RFC 9110).
        return StaleVersion(
            _(
                "If-Match names no version of this %(name)s; send its ETag as given "
                "(now %(version)d)."
            )
            % {"name": name, "version": current.version},
            current=current,
        )
    return StaleVersion(
        _("This %(name)s changed since %(read)s; it is now at version %(version)d.")
        % {"name": name, "read": read, "version": current.version},
        current=current,
    )


def lock_version(
    instance: M, expected_version: ExpectedVersion = None, *, scope=None
) -> M:
    """Return the record's row, locked; raise ``StaleVersion`` if it moved on.

    Call inside ``transaction.atomic()``. ``scope`` (a queryset of the model,
    e.g. what the caller may see) makes the lock also the access check: a
    row outside it raises ``DoesNotExist``, so an API write need not read the
    row once to check it and again to lock it.
    """
    model = type(instance)
    rows = model._default_manager.all() if scope is None else scope
    locked = rows.select_for_update(of=("self",)).get(pk=instance.pk)
    if not version_matches(expected_version, locked.version):
        raise stale(model, expected_version, locked)
    return locked


def save_versioned(instance: models.Model, fields: list[str] | tuple[str, ...]) -> None:
    """Save the named fields of a locked record and bump its version."""
    instance.version += 1
    update_fields = [*fields, "version"]
    if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
        update_fields.append("updated_at")
    instance.save(update_fields=list(dict.fromkeys(update_fields)))


def differs(record: models.Model, name: str, value: Any) -> bool:
    """Return whether setting field ``name`` to ``value`` would change the record."""
    field = record._meta.get_field(name)
    if field.is_relation:
        return getattr(record, field.attname) != getattr(value, "pk", value)
    return getattr(record, name) != value


def record_update(
    instance: M,
    *,
    changes: Mapping[str, Any],
    expected_version: ExpectedVersion = None,
) -> M:
    """Write ``changes`` (field name to value) to the record's row, and only them.

    Return the record as it is in the database after the write: fields changed
    by others since ``instance`` was read are the current ones. Values equal
    to the current ones are no change: a client sending a record back as it
    read it (a PUT) moves neither the version nor ``updated_at``. Without
    changes nothing is written, but ``expected_version`` is still checked.
    """
    with transaction.atomic():
        locked = lock_version(instance, expected_version)
        changes = {
            name: value
            for name, value in changes.items()
            if differs(locked, name, value)
        }
        if changes:
            for name, value in changes.items():
                setattr(locked, name, value)
            save_versioned(locked, list(changes))
    return locked
