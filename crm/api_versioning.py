"""HTTP side of optimistic locking: ``ETag`` out, ``If-Match`` in, 412 back.

A record's ``ETag`` is its version as a strong entity tag (``"3"``). A write
sent with ``If-Match`` applies only if the record is still at that version;
otherwise the answer is 412 with the record as it is now, so that the client
can show it and retry from its version. ``If-Match`` uses the *strong*
comparison of RFC 9110 (section 13.1.1): a weak tag (``W/"3"``) is valid but
never matches, hence a 412 rather than a 400. A bare number (``3``) is also
accepted, as it always was. Anything else is a 400 with a message on the
``If-Match`` field.

``VersionedViewSetMixin`` gives a viewset all of it, with updates that write
only the fields the request names (``crm.versioning.record_update``).
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse

from crm.errors import StaleVersion
from crm.versioning import ExpectedVersion, lock_version, record_update

# RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')

_DIGITS = re.compile(r"[0-9]+")

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description='The version from the record\'s ETag ("3"). If the record has '
    "changed since, the answer is 412 with the record as it is now. Compared "
    'strongly (RFC 9110): a weak tag such as W/"3" never matches.',
)


def expected_version(request) -> ExpectedVersion:
    """Return the versions ``If-Match`` accepts, or None when it sets no condition.

    ``*`` matches any existing record, so it is no condition here. A single
    strong tag gives its version; a list gives the set of its strong versions
    (empty when it names none, which no record matches).
    """
    raw = request.headers.get("If-Match", "").strip()
    if not raw or raw == "*":
        return None
    if _DIGITS.fullmatch(raw):
        version = _version(raw)
        return frozenset() if version is None else version
    tags, position = [], 0
    while position < len(raw):
        match = _ENTITY_TAG.match(raw, position)
        if match is None:
            raise exceptions.ValidationError(
                {"If-Match": _('Send the version from the record\'s ETag, e.g. "3".')}
            )
        tags.append((bool(match.group(1)), match.group(2)))
        position = match.end()
    versions = (_version(tag) for weak, tag in tags if not weak)
    strong = frozenset(v for v in versions if v is not None)
    if len(tags) == 1 and len(strong) == 1:
        return next(iter(strong))
    return strong


def _version(tag: str) -> int | None:
    """Return the version an opaque tag names, or None for a tag not ours.

    Only ASCII digits (``str.isdigit`` also accepts "²"), and no more than a
    version can have, so that ``int`` never fails on a long string.
    """
    if _DIGITS.fullmatch(tag) and len(tag) <= 10:
        return int(tag)
    return None


def etag(record: Any) -> str:
    """Return the record's version as a strong entity tag."""
    return f'"{record.version}"'


def created_headers(request, record: Any, basename: str) -> dict[str, str]:
    """Return the headers of a 201: the new record's ``ETag`` and ``Location``."""
    url = reverse(f"{basename}-detail", kwargs={"pk": record.pk}, request=request)
    return {"ETag": etag(record), "Location": url}


def versioned_schema(
    serializer_class: type[serializers.Serializer], *, delete_may_conflict=False
):
    """Document If-Match and the 412 on a viewset's update and destroy.

    ``delete_may_conflict``: a destroy can also be refused with 409 (a record
    that others refer to).
    """
    from crm.serializers import ConflictResponseSerializer, stale_response_serializer

    stale = stale_response_serializer(serializer_class)
    write = extend_schema(
        parameters=[IF_MATCH], responses={200: serializer_class, 412: stale}
    )
    refusals = {409: ConflictResponseSerializer} if delete_may_conflict else {}
    delete = extend_schema(
        parameters=[IF_MATCH], responses={204: None, 412: stale, **refusals}
    )

    def decorate(viewset):
        overrides = {"update": write, "partial_update": write}
        if hasattr(viewset, "destroy"):
            overrides["destroy"] = delete
        return extend_schema_view(**overrides)(viewset)

    return decorate


class VersionedViewSetMixin:
    """ETag on every record a viewset returns; If-Match checked on its writes.

    Updates write only the fields the request names, under the row lock
    (override ``perform_versioned_update`` to go through a service); the
    serializer's read-only fields (those only services set) are never written.
    """

    def represent(self, instance) -> dict:
        """Return the record as the API shows it (the response of every write)."""
        return self.get_serializer(instance).data

    def versioned_response(
        self, instance, status_code: int = status.HTTP_200_OK, data=None
    ) -> Response:
        """Answer with the record (``data``: as already represented) and its ETag."""
        headers = (
            created_headers(self.request, instance, self.basename)
            if status_code == status.HTTP_201_CREATED
            else {"ETag": etag(instance)}
        )
        if data is None:
            data = self.represent(instance)
        return Response(data, status=status_code, headers=headers)

    def retrieve(self, request, *args, **kwargs):
        return self.versioned_response(self.get_object())

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        # The serializer that validated the input shows the new record, as
        # DRF's own create does: its fields differ from the answer's only in
        # which are writable, so a second serializer (its fields built again)
        # would draw the same answer.
        return self.versioned_response(
            serializer.instance, status.HTTP_201_CREATED, data=serializer.data
        )

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_versioned_update(
            instance, dict(serializer.validated_data)
        )
        return self.versioned_response(instance)

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def perform_versioned_update(self, instance, changes: dict[str, Any]):
        """Write ``changes`` to the record; return it as it is now."""
        return record_update(
            instance,
            changes=changes,
            expected_version=expected_version(self.request),
        )

    def perform_destroy(self, instance) -> None:
        with transaction.atomic():
            lock_version(instance, expected_version(self.request)).delete()

    def handle_exception(self, exc):
        if isinstance(exc, StaleVersion) and exc.current is not None:
            return stale_response(exc, self.represent(exc.current))
        return super().handle_exception(exc)


def stale_response(exc: StaleVersion, current: dict) -> Response:
    """Return the 412: the API's error format plus the record as it is now."""
    return Response(
        {
            "type": "client_error",
            "errors": [{"code": exc.code, "detail": exc.message, "attr": None}],
            "current": current,
        },
        status=status.HTTP_412_PRECONDITION_FAILED,
        headers={"ETag": etag(exc.current)},
    )
