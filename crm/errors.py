"""Domain exceptions raised by services, independent of the interface calling them.

Input problems are Django's ``ValidationError`` (a message per field); a request
that is valid but cannot apply to the record's current state is a ``Conflict``.
The API maps them to 400 and 409 in ``crm.api_errors``; the admin shows them as
messages.
"""


class Conflict(Exception):
    """The record's current state forbids the requested change (HTTP 409)."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def final_state(field: str, message: str, *, code: str):
    """Return the 400 for a change the record's state forbids for good.

    A ``Conflict`` (409) tells the client that the same request can succeed
    once another action has changed the record. A converted lead never
    becomes a prospect again and a done activity is never planned again:
    retrying cannot help, so the request itself is wrong, a 400 on ``field``.
    """
    from django.core.exceptions import ValidationError

    return ValidationError({field: ValidationError(message, code=code)})


class StaleVersion(Conflict):
    """The client changed a record from an out-of-date version (HTTP 412)."""

    def __init__(self, message: str, *, current=None) -> None:
        super().__init__(message, code="stale_version")
        self.current = current


def constraint_violation(exc: Exception):
    """Return the ``ValidationError`` of a constraint the database enforced.

    Validation checks constraints before writing, but a concurrent write can
    still get there first; the constraint then names the field to fix (a
    400, since retrying the same request cannot succeed). Return None for an
    error that names no constraint with its own message.
    """
    from django.apps import apps
    from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
    from django.db.models import F, UniqueConstraint
    from django.db.models.constraints import BaseConstraint

    text = str(exc)
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            if (
                f'"{constraint.name}"' not in text
                and f"'{constraint.name}'" not in text
                and not text.endswith(constraint.name)
            ) or (
                constraint.violation_error_message
                == BaseConstraint.default_violation_error_message
            ):
                continue
            field = NON_FIELD_ERRORS
            if isinstance(constraint, UniqueConstraint):
                if constraint.fields:
                    field = constraint.fields[0]
                elif constraint.expressions:
                    refs = [
                        e
                        for e in constraint.expressions[0].flatten()
                        if isinstance(e, F)
                    ]
                    field = refs[0].name if refs else NON_FIELD_ERRORS
            return ValidationError({field: constraint.get_violation_error_message()})
    return None
