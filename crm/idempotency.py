"""``Idempotency-Key`` support for every POST under ``/api/v1/``.

A retry with the same key and body, by the same caller, within 24 hours, gets
the stored response without the work being done again; the same key with a
different body gets 422; a retry while the first request is still running gets
409. The key row is inserted (and committed) before the view runs, so the
database's unique constraint decides which of two concurrent requests works.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.settings import api_settings

from crm.models import IdempotencyKey

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def purge_expired() -> int:
    """Delete keys past their 24 hours; return how many."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - TTL
    ).delete()
    return deleted


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        {
            "type": "client_error",
            "errors": [{"code": code, "detail": detail, "attr": None}],
        },
        status=status,
    )


def _caller(request: HttpRequest) -> str | None:
    """Identify the caller as the API will (token or session), or by address."""
    drf_request = Request(
        request,
        authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES],
    )
    try:
        user = drf_request.user
    except Exception:  # a bad credential: the view itself will answer 401
        return None
    if user.is_authenticated:
        return f"user:{user.pk}"
    return f"anon:{request.META.get('REMOTE_ADDR', '')}"


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if (
            request.method != "POST"
            or not key
            or not request.path.startswith("/api/v1/")
        ):
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH:
            return _error(400, "invalid", f"{HEADER} is longer than {MAX_KEY_LENGTH}.")
        caller = _caller(request)
        if caller is None:
            return self.get_response(request)
        fingerprint = hashlib.sha256(
            request.method.encode() + request.path.encode() + b"\n" + request.body
        ).hexdigest()
        record, replay = self._begin(caller, key, fingerprint)
        if replay is not None:
            return replay
        response = self.get_response(request)
        self._finish(record, response)
        return response

    def _begin(self, caller: str, key: str, fingerprint: str):
        """Claim the key, or return the response owed to a repeated request."""
        now = timezone.now()
        IdempotencyKey.objects.filter(
            caller=caller, key=key, created_at__lt=now - TTL
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    caller=caller, key=key, fingerprint=fingerprint, created_at=now
                )
        except IntegrityError:
            record = IdempotencyKey.objects.get(caller=caller, key=key)
            if record.fingerprint != fingerprint:
                return None, _error(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was used with a different request body.",
                )
            if record.status_code is None:
                return None, _error(
                    409,
                    "request_in_progress",
                    f"A request with this {HEADER} is still running; retry later.",
                )
            replay = HttpResponse(
                bytes(record.response_body),
                status=record.status_code,
                content_type=record.content_type or "application/json",
            )
            replay["Idempotent-Replayed"] = "true"
            return None, replay
        return record, None

    def _finish(self, record: IdempotencyKey, response: HttpResponse) -> None:
        # Server errors and throttling are not outcomes: free the key for a retry.
        if response.status_code >= 500 or response.status_code == 429:
            record.delete()
            return
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
        record.status_code = response.status_code
        record.response_body = response.content
        record.content_type = response.get("Content-Type", "")
        record.completed_at = timezone.now()
        record.save(
            update_fields=[
                "status_code",
                "response_body",
                "content_type",
                "completed_at",
            ]
        )
