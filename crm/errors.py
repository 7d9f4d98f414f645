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


class StaleVersion(Conflict):
    """The client changed a record from an out-of-date version (HTTP 412)."""

    def __init__(self, message: str, *, current=None) -> None:
        super().__init__(message, code="stale_version")
        self.current = current
