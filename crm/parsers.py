"""The API's body parser: JSON, with a bound on how deeply it nests."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from crm.limits import MAX_JSON_DEPTH


def _depth_exceeds(data, limit: int) -> bool:
    """Return True if ``data`` nests arrays or objects deeper than ``limit``."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than ``MAX_JSON_DEPTH``."""

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(
            _("JSON nested deeper than %(depth)d levels.") % {"depth": MAX_JSON_DEPTH}
        )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder gave up long before our bound
            raise too_deep from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise too_deep
        return data
