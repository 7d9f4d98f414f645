"""``Idempotency-Key`` support for every POST under ``/api/v1/``.

A retry with the same key and request, by the same caller, within 24 hours, gets
the stored response (status, body, ``ETag`` and ``Location``) without the work
being done again; the same key with a different request gets 422; a retry while
the first request is still running gets 409.

The key is checked where DRF would check the caller, with the view's own
authenticators (so a browser session needs its CSRF token, as for any write) and
its own throttles (a throttled request stores nothing). Anonymous callers may use
a key only on views that let them write (``idempotency_for_anonymous``, the
public capture endpoint); elsewhere the view answers 401 and nothing is stored.

The claim is a committed row holding a *lease*: the database's unique
constraint decides which of two concurrent requests works, and the other gets
409 while the lease runs. A request that dies without answering (a killed worker)
leaves its lease to expire, after which a retry takes the key over and does the
work. The key is not written in the request's own transaction because a
duplicate would then wait on the unique index for the first to finish instead of
being told at once, and the services keep their short transactions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.throttling import SimpleRateThrottle

from crm.limits import MAX_BODY_BYTES
from crm.models import IdempotencyKey

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
# Longer than any request may run (the WSGI server's timeout): while it runs, a
# duplicate gets 409; once it expires, the request is presumed dead.
LEASE = timedelta(minutes=2)
MAX_KEY_LENGTH = 255
# Headers of the original response that a replay repeats.
REPLAYED_HEADERS = ("ETag", "Location")
# Outcomes that are not the request's: the key is freed for a retry.
NOT_STORED_STATUSES = frozenset({401, 403, 409, 429})


def purge_expired() -> int:
    """Delete keys past their 24 hours; return how many."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - TTL
    ).delete()
    return deleted


def redact(response: HttpResponse, *fields: str) -> HttpResponse:
    """Mark top-level fields of a JSON response that must never be stored.

    A replay returns the stored response without them (a webhook endpoint's
    signing secret is shown once, in the answer to the request itself).
    """
    response.idempotency_redacted = fields
    return response


def _error(status: int, code: str, detail: str, **headers: str) -> JsonResponse:
    response = JsonResponse(
        {
            "type": "client_error",
            "errors": [{"code": code, "detail": detail, "attr": None}],
        },
        status=status,
    )
    for name, value in headers.items():
        response[name] = value
    return response


def _view_for(view_func, request: HttpRequest, args, kwargs):
    """Return the DRF view instance that will serve the request, or None."""
    cls = getattr(view_func, "cls", None)
    if cls is None:
        return None
    view = cls(**getattr(view_func, "initkwargs", {}))
    actions = getattr(view_func, "actions", None)
    if actions is not None:
        view.action_map = actions
    view.args, view.kwargs = args, kwargs
    view.headers = {}
    return view


def _throttled(view, drf_request) -> bool:
    """Return True if one of the view's throttles would refuse the request.

    Only checks: the view's own throttle check records the request afterwards.
    """
    for throttle in view.get_throttles():
        if isinstance(throttle, SimpleRateThrottle):
            throttle.throttle_success = lambda: True  # check without recording
        if not throttle.allow_request(drf_request, view):
            return True
    return False


def _caller(view, request: HttpRequest) -> str | None:
    """Identify the caller as the view will, or None if the key does not apply."""
    drf_request = view.initialize_request(request, *view.args, **view.kwargs)
    view.request = drf_request
    # DRF writes the user it finds back onto the Django request, anonymous on a
    # failed check: keep the middleware's lazy user so the view decides alone.
    original_user = request.__dict__.get("user")
    try:
        user = drf_request.user
    except APIException:  # a bad credential or CSRF token: the view answers it
        return None
    finally:
        if original_user is not None:
            request.user = original_user
    if not user.is_authenticated and not getattr(
        view, "idempotency_for_anonymous", False
    ):
        return None
    if _throttled(view, drf_request):
        return None
    if user.is_authenticated:
        return f"user:{user.pk}"
    return f"anon:{request.META.get('REMOTE_ADDR', '')}"


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        claim = getattr(request, "_idempotency_claim", None)
        if claim is not None:
            _finish(claim, response)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        key = request.headers.get(HEADER)
        if (
            request.method != "POST"
            or not key
            or not request.path.startswith("/api/v1/")
        ):
            return None
        if len(key) > MAX_KEY_LENGTH:
            return _error(400, "invalid", f"{HEADER} is longer than {MAX_KEY_LENGTH}.")
        try:
            body = request.body
        except RequestDataTooBig:
            return _error(
                413,
                "request_too_large",
                f"The request body is larger than {MAX_BODY_BYTES} bytes.",
            )
        view = _view_for(view_func, request, view_args, view_kwargs)
        if view is None:
            return None
        caller = _caller(view, request)
        if caller is None:
            return None
        fingerprint = hashlib.sha256(
            b"\n".join(
                [
                    request.method.encode(),
                    request.path.encode(),
                    request.headers.get("If-Match", "").encode(),
                    body,
                ]
            )
        ).hexdigest()
        claim, replay = _begin(caller, key, fingerprint)
        if replay is not None:
            return replay
        request._idempotency_claim = claim
        return None


def _begin(caller: str, key: str, fingerprint: str):
    """Claim the key, or return the response owed to a repeated request."""
    now = timezone.now()
    IdempotencyKey.objects.filter(
        caller=caller, key=key, created_at__lt=now - TTL
    ).delete()
    for _ in range(2):  # the row may vanish between the insert and the read
        claim = uuid.uuid4()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    caller=caller,
                    key=key,
                    fingerprint=fingerprint,
                    created_at=now,
                    claim=claim,
                    lease_until=now + LEASE,
                )
        except IntegrityError:
            record = IdempotencyKey.objects.filter(caller=caller, key=key).first()
            if record is None:
                continue
        else:
            return record, None
        if record.fingerprint != fingerprint:
            return None, _error(
                422,
                "idempotency_key_reused",
                f"This {HEADER} was used with a different request.",
            )
        if record.status_code is not None:
            return None, _replay(record)
        if record.lease_until is not None and record.lease_until > now:
            wait = int((record.lease_until - now).total_seconds()) + 1
            return None, _error(
                409,
                "request_in_progress",
                f"A request with this {HEADER} is still running; retry later.",
                **{"Retry-After": str(wait)},
            )
        # The request holding the key died: take it over, unless another
        # retry has just done so (the claim it read is no longer there).
        taken = IdempotencyKey.objects.filter(
            pk=record.pk, status_code__isnull=True, claim=record.claim
        ).update(claim=claim, lease_until=now + LEASE)
        if taken:
            record.claim = claim
            return record, None
        return None, _error(
            409,
            "request_in_progress",
            f"A request with this {HEADER} is still running; retry later.",
            **{"Retry-After": str(int(LEASE.total_seconds()))},
        )
    return None, _error(
        409, "request_in_progress", f"This {HEADER} is in use; retry later."
    )


def _replay(record: IdempotencyKey) -> HttpResponse:
    replay = HttpResponse(
        bytes(record.response_body),
        status=record.status_code,
        content_type=record.content_type or "application/json",
    )
    for name, value in (record.headers or {}).items():
        replay[name] = value
    replay["Idempotent-Replayed"] = "true"
    return replay


def _stored_body(response: HttpResponse) -> bytes:
    redacted = getattr(response, "idempotency_redacted", ())
    if not redacted:
        return response.content
    data = json.loads(response.content)
    if not isinstance(data, dict):
        return response.content
    for field in redacted:
        data.pop(field, None)
    return json.dumps(data).encode()


def _finish(record: IdempotencyKey, response: HttpResponse) -> None:
    mine = IdempotencyKey.objects.filter(pk=record.pk, claim=record.claim)
    # Server errors and refusals that a retry may get past are not outcomes:
    # free the key.
    if response.status_code >= 500 or response.status_code in NOT_STORED_STATUSES:
        mine.delete()
        return
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    mine.update(
        status_code=response.status_code,
        response_body=_stored_body(response),
        content_type=response.get("Content-Type", ""),
        headers={name: response[name] for name in REPLAYED_HEADERS if name in response},
        completed_at=timezone.now(),
        lease_until=None,
    )
