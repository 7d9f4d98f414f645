"""One JSON error format for every API error, built on drf-standardized-errors.

Domain exceptions from services are converted here once, so that views never
translate them by hand; anything unexpected still becomes a JSON 500.
"""

from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, status
from rest_framework.settings import api_settings

from crm.errors import Conflict, StaleVersion, constraint_violation
from crm.limits import MAX_BODY_BYTES, MAX_PARAMETERS


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The record's current state does not allow this change.")
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("The record changed since you read it.")
    default_code = "stale_version"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "request_too_large"


class CrmExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        # Django's request bounds (crm/limits.py), met while DRF reads the request.
        if isinstance(exc, RequestDataTooBig):
            return RequestTooLarge(
                _("The request body is larger than %(bytes)d bytes.")
                % {"bytes": MAX_BODY_BYTES}
            )
        if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
            return exceptions.ParseError(
                _("More than %(count)d parameters.") % {"count": MAX_PARAMETERS},
                code="too_many_parameters",
            )
        if isinstance(exc, DjangoValidationError):
            if hasattr(exc, "error_dict"):
                detail = {
                    (
                        api_settings.NON_FIELD_ERRORS_KEY if key == "__all__" else key
                    ): value
                    for key, value in exc.message_dict.items()
                }
            else:
                detail = exc.messages
            return exceptions.ValidationError(detail)
        if isinstance(exc, StaleVersion):
            return PreconditionFailed(exc.message, code=exc.code)
        if isinstance(exc, Conflict):
            return ConflictError(exc.message, code=exc.code)
        if isinstance(exc, ProtectedError):
            # Deleting a record others still point to: a 409, since removing
            # those first lets the same request succeed.
            kinds = sorted(
                {str(obj._meta.verbose_name_plural) for obj in exc.protected_objects}
            )
            return ConflictError(
                _("This record is still used by %(kinds)s; it cannot be deleted.")
                % {"kinds": ", ".join(kinds)},
                code="protected",
            )
        if isinstance(exc, IntegrityError):
            # A constraint caught what validation could not see (typically two
            # concurrent writes). One with its own message names the field to
            # fix: a 400, as a retry would fail the same way.
            violation = constraint_violation(exc)
            if violation is not None:
                return self.convert_known_exceptions(violation)
            return ConflictError(
                _(
                    "This change conflicts with data written meanwhile; read the "
                    "record again."
                )
            )
        return super().convert_known_exceptions(exc)


def _json_error(code: str, detail: str, status_code: int) -> JsonResponse:
    error_type = "server_error" if status_code >= 500 else "client_error"
    return JsonResponse(
        {
            "type": error_type,
            "errors": [{"code": code, "detail": detail, "attr": None}],
        },
        status=status_code,
    )


def api_aware_400(request, exception=None):
    """Answer bad requests refused before a view under ``/api/`` in JSON."""
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return _json_error(
                "request_too_large",
                _("The request body is larger than %(bytes)d bytes.")
                % {"bytes": MAX_BODY_BYTES},
                413,
            )
        if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
            return _json_error(
                "too_many_parameters", f"More than {MAX_PARAMETERS} parameters.", 400
            )
        return _json_error("bad_request", _("Bad request."), 400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def api_aware_404(request, exception=None):
    """Answer unknown ``/api/`` URLs with the API's JSON error, others with HTML."""
    if request.path.startswith("/api/"):
        return _json_error("not_found", _("Not found."), 404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def api_aware_500(request):
    """Answer server errors under ``/api/`` in JSON, never an HTML page."""
    if request.path.startswith("/api/"):
        return _json_error("error", _("A server error occurred."), 500)
    from django.views.defaults import server_error

    return server_error(request)
