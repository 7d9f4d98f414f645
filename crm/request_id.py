"""The request id: one id per request, in every log line it causes and its jobs'.

An incoming ``X-Request-ID`` (set by the load balancer, or by a client
retrying) is kept when it is a short token of safe characters, so one id
follows a request across proxies; anything else is replaced by a new UUID,
which nobody can use to forge log lines. The id is answered in the response's
``X-Request-ID``, carried into the jobs the request enqueues as a Celery
message header, and set again while the worker runs the job.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar, Token

HEADER = "X-Request-ID"
# Celery message header that carries it into a job.
TASK_HEADER = "request_id"
_SAFE = re.compile(r"[A-Za-z0-9._:-]{8,128}")

current: ContextVar[str] = ContextVar("request_id", default="")
logger = logging.getLogger("crm.requests")


def sane(value: str | None) -> str:
    """Return ``value`` if it is an acceptable id, else a new one."""
    if value and _SAFE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give the request its id, log one line when it ends, answer the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = sane(request.headers.get(HEADER))
        request.request_id = request_id
        token = current.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            current.reset(token)


class RequestIdFilter(logging.Filter):
    """Add the current request's (or job's) id to every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current.get() or "-"
        return True


# --- Celery: the id travels in the message headers --------------------------------


def add_to_task_headers(headers: dict | None = None, **kwargs) -> None:
    """``before_task_publish``: put the current id in the job's message headers."""
    request_id = current.get()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


_task_tokens: dict[str, Token] = {}


def set_from_task(task_id=None, task=None, **kwargs) -> None:
    """``task_prerun``: make the job's id current (a job from beat gets a new one)."""
    request = getattr(task, "request", None)
    sent = getattr(request, TASK_HEADER, None) or (
        (getattr(request, "headers", None) or {}).get(TASK_HEADER)
    )
    # An eager job runs inside the request: it keeps the request's id.
    request_id = sane(sent) if sent else current.get() or sane(None)
    _task_tokens[task_id] = current.set(request_id)


def reset_after_task(task_id=None, **kwargs) -> None:
    """``task_postrun``: restore the id that was current before the job."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        current.reset(token)
