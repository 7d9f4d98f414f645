"""Examples built from the OpenAPI schema itself, for what views leave undocumented.

The domain operations carry hand-written ``OpenApiExample``s next to their views;
every other request body and 2xx response gets one example here, derived from
its schema (``$ref``s resolved, enums, formats, lengths and patterns honoured), so
that ``/api/docs/`` and generated clients show a value for every operation.
``tests/test_openapi_examples.py`` validates each example against its schema.
"""

from __future__ import annotations

import copy
import csv
import io
import re
from typing import Any

from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from rest_framework.filters import SearchFilter

PAGE_KEYS = frozenset({"count", "next", "previous", "results"})
HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete"})
JSON = "application/json"
CSV = "text/csv"
EXAMPLE_NAME = "Example"
EXAMPLE_SUMMARY = "Built from the schema"
# Deep enough for Funnel -> FunnelStage, shallow enough to stop a cyclic $ref.
MAX_DEPTH = 8

# Values by property name, for strings that carry no format: a reader recognises
# "Analytical Engines" as a company where "string" would tell them nothing. They
# follow the walk-through of docs/api.md, as the hand-written examples do.
STRING_HINTS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "username": "grace.hopper",
    "password": "correct-horse-battery-staple",
    "name": "Analytical Engines",
    "company": "Analytical Engines",
    "company_name": "Analytical Engines",
    "title": "Analytical Engines annual plan",
    "job_title": "CTO",
    "phone": "+44 20 7946 0958",
    "domain": "analytical.example",
    "industry": "Computing",
    "country": "GB",
    "currency": "EUR",
    "target_currency": "EUR",
    "plan": "Growth",
    "slug": "sales-playbook",
    "description": "A 20-page playbook for B2B sales teams.",
    "notes": "Asked for a call back next week.",
    "churn_reason": "",
    "error": "",
    "event_type": "deal.won",
    "interval": "month",
    "key": "win_rate",
    "label": "Win rate",
    "stage": "presentation",
    "channel": "inbound",
    "type": "client_error",
    "token": "a3f1c9e07b2d48f6a1e5c3b9d7f20846e1b7c5a9d3f6e2b8c4a0f7d1e9b3c5a7",
    "secret": "whsec-7Qm2Lx9Vt4Rk8Pz3",
    "offer": "sales-playbook",
}
PERIOD_BOUNDS = {
    "start": "2026-10-01",
    "period_start": "2026-10-01",
    "end": "2026-12-31",
    "period_end": "2026-12-31",
}
# Decimal figures sent as strings without ``format: decimal`` (the KPI payloads).
DECIMAL_WORDS = ("rate", "conversion", "attainment", "value", "target")
MONEY_WORDS = ("amount", "mrr")
# Flags that are false on an ordinary record.
FALSE_FLAGS = frozenset({"is_failing", "is_stale", "is_cold_call"})
INTEGER_HINTS = {
    "id": 1,
    "count": 1,
    "employees": 250,
    "probability": 60,
    "duration_seconds": 540,
    "duration_ms": 184,
    "status_code": 200,
    "score": 80,
    "version": 3,
    "consecutive_failures": 0,
    "deals": 4,
    "owner": 7,
    "by": 7,
    "decided_by": 7,
    "manager": 3,
    "team": 2,
    "members": 7,
    "company": 46,
    "contact": 86,
    "lead": 301,
    "deal": 156,
    "offer": 5,
    "event_id": 9001,
}


def postprocess_schema_examples(result: dict, generator, request, public) -> dict:
    """Give every request body and 2xx response without an example one."""
    components = result.get("components", {}).get("schemas", {})
    export_columns = _export_columns(generator)
    exports = []
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            body = operation.get("requestBody")
            if body:
                _fill_request(body.get("content", {}), components)
            for status_code, response in operation.get("responses", {}).items():
                if not str(status_code).startswith("2"):
                    continue
                content = response.get("content", {})
                if JSON in content:
                    _tidy_pages(content[JSON])
                if JSON in content and not _has_example(content[JSON]):
                    _set_example(
                        content[JSON],
                        example_for(content[JSON]["schema"], components, "response"),
                    )
                if CSV in content and not _has_example(content[CSV]):
                    exports.append((path, method, content[CSV]))
    # After the loop: an export's row is taken from its list's example.
    for path, method, media in exports:
        columns = export_columns.get((path, method))
        _set_example(media, csv_example(columns, path, result))
    return result


def _fill_request(content: dict, components: dict) -> None:
    """Put an example on each media type; form encodings share the JSON one's."""
    json_media = content.get(JSON)
    if json_media is not None and not _has_example(json_media):
        _set_example(
            json_media, example_for(json_media["schema"], components, "request")
        )
    for media in content.values():
        if media is json_media or _has_example(media) or "schema" not in media:
            continue
        if json_media is not None and json_media.get("examples"):
            media["examples"] = copy.deepcopy(json_media["examples"])
        else:
            _set_example(media, example_for(media["schema"], components, "request"))


def _tidy_pages(media: dict) -> None:
    """Make the pages drf-spectacular wraps around list examples self-consistent.

    It fills ``count``/``next``/``previous`` with its paginator's placeholders
    (123 items, api.example.org/accounts/ links) around a single item.
    """
    for example in media.get("examples", {}).values():
        page = example.get("value")
        placeholder = isinstance(page, dict) and "api.example.org" in str(
            page.get("next")
        )
        if placeholder and set(page) >= PAGE_KEYS:
            page.update(count=len(page["results"]), next=None, previous=None)


def _has_example(media: dict) -> bool:
    return bool(media.get("examples")) or "example" in media


def _first_example(media: dict) -> Any:
    if "example" in media:
        return media["example"]
    return next(iter(media["examples"].values())).get("value")


def _set_example(media: dict, value: Any) -> None:
    media["examples"] = {EXAMPLE_NAME: {"value": value, "summary": EXAMPLE_SUMMARY}}


def resolve(schema: dict, components: dict) -> dict:
    """Return ``schema`` with a top-level ``$ref`` (and a lone ``allOf``) resolved."""
    while True:
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[-1]]
        elif len(schema.get("allOf", ())) == 1 and "properties" not in schema:
            # drf-spectacular wraps a $ref in allOf to add siblings (default,
            # description, readOnly): those do not change the value's shape.
            schema = schema["allOf"][0]
        else:
            return schema


def example_for(
    schema: dict, components: dict, direction: str, name: str = "", depth: int = 0
) -> Any:
    """Return a value valid for ``schema``; ``direction`` drops read/write-only."""
    if "example" in schema:
        return schema["example"]
    schema = resolve(schema, components)
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            # The first alternative: an enum before the blank one, an e-mail
            # address before the empty string.
            return example_for(schema[key][0], components, direction, name, depth)
    if depth > MAX_DEPTH:
        return None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object_for(schema, components, direction, depth)
    if kind == "array":
        item = example_for(schema.get("items", {}), components, direction, name, depth)
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return _integer_for(schema, name)
    if kind == "number":
        return max(schema.get("minimum", 0), 1.5)
    if kind == "boolean":
        return name not in FALSE_FLAGS
    if kind == "string":
        return _string_for(schema, name)
    return None


def _object_for(schema: dict, components: dict, direction: str, depth: int) -> dict:
    properties = schema.get("properties", {})
    if set(properties) == PAGE_KEYS:
        # A page of a list: one item, and no other page to link to.
        item = example_for(
            properties["results"].get("items", {}), components, direction, "", depth + 1
        )
        return {"count": 1, "next": None, "previous": None, "results": [item]}
    skip = "readOnly" if direction == "request" else "writeOnly"
    value = {}
    for prop_name, prop in properties.items():
        if prop.get(skip) or resolve(prop, components).get(skip):
            continue
        if prop.get("readOnly") and _is_blank_choice(prop, components):
            value[prop_name] = ""
            continue
        if prop.get("readOnly") and prop.get("nullable"):
            # State the server fills in later (closed_at, score, deal): empty,
            # as on a new record, rather than a contradictory set of dates.
            value[prop_name] = None
            continue
        value[prop_name] = example_for(
            prop, components, direction, prop_name, depth + 1
        )
    return value


def _is_blank_choice(schema: dict, components: dict) -> bool:
    """Whether one alternative of a ``oneOf`` is the blank enum (lost_reason)."""
    return any(
        resolve(option, components).get("enum") == [""]
        for option in schema.get("oneOf", ())
    )


def _integer_for(schema: dict, name: str) -> int:
    value = INTEGER_HINTS.get(name, 1)
    value = max(value, schema.get("minimum", value))
    return min(value, schema.get("maximum", value))


def _string_for(schema: dict, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date" or name in PERIOD_BOUNDS:
        # A period is the quarter of docs/api.md's KPI request.
        return PERIOD_BOUNDS.get(name, "2026-10-05")
    if fmt == "date-time":
        return "2026-10-05T09:30:00Z"
    if fmt == "email":
        return "ada@analytical.example"
    if fmt == "uri":
        return "https://crm-hooks.example.com/in"
    if fmt == "uuid":
        return "3f2b8c1e-9d4a-4e6f-8a7b-1c2d3e4f5a6b"
    if fmt == "binary":
        return ""
    if name in STRING_HINTS:
        candidates = [STRING_HINTS[name]]
    elif any(word in name for word in MONEY_WORDS):
        candidates = ["12000.00"]
    elif any(word in name for word in DECIMAL_WORDS):
        candidates = ["0.25"]
    elif fmt == "decimal":
        candidates = ["12000.00"]
    else:
        candidates = [name.replace("_", " ") or "text"]
    candidates.append("example")
    for candidate in candidates:
        value = _fit_length(candidate, schema)
        if _matches(value, schema):
            return value
    return value


def _fit_length(value: str, schema: dict) -> str:
    minimum, maximum = schema.get("minLength", 0), schema.get("maxLength")
    if len(value) < minimum:
        value = (value * (minimum // max(len(value), 1) + 1))[: max(minimum, 1)]
    if maximum is not None:
        value = value[:maximum]
    return value


def _matches(value: str, schema: dict) -> bool:
    pattern = schema.get("pattern")
    return pattern is None or re.search(pattern, value) is not None


def _export_columns(generator) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Map (path, method) of the CSV exports to their model's (header, field)s."""
    columns = {}
    for path, _regex, method, callback in getattr(generator, "endpoints", None) or []:
        view_class = getattr(callback, "cls", None)
        queryset = getattr(view_class, "queryset", None)
        model = getattr(queryset, "model", None)
        if hasattr(model, "CSV_COLUMNS"):
            columns[(path, method.lower())] = list(model.CSV_COLUMNS)
    return columns


def csv_example(columns: list[tuple[str, str]] | None, path: str, result: dict) -> str:
    """Return a header row and one row of an export, as the API streams it."""
    item = _list_item_example(path, result)
    if not columns:
        columns = [(key, key) for key in item]
    row = [_csv_cell(item, header, field) for header, field in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([[header for header, _field in columns], row])
    return buffer.getvalue()


def _csv_cell(item: dict, header: str, field: str) -> str:
    """Return the cell of ``field`` (a ``values_list`` path) from the list's row."""
    if field == "pk":
        value = item.get("id")
    elif "__" in field:
        # A related column (owner__username, company__name): not in the JSON row.
        value = STRING_HINTS.get(field.rsplit("__", 1)[-1], header)
    elif field.endswith("_id") and field.removesuffix("_id") in item:
        value = item[field.removesuffix("_id")]
    elif field in item:
        value = item[field]
    elif field.endswith("_at"):
        value = _string_for({"format": "date-time"}, field)
    else:
        value = _string_for({"type": "string"}, field)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _list_item_example(path: str, result: dict) -> dict:
    """Return the first row of the sibling list's example (``…/export/`` -> ``…/``)."""
    list_path = path.removesuffix("export/")
    try:
        media = result["paths"][list_path]["get"]["responses"]["200"]["content"][JSON]
        page = _first_example(media)
    except (KeyError, StopIteration):
        return {}
    rows = page.get("results", []) if isinstance(page, dict) else page
    return rows[0] if rows and isinstance(rows[0], dict) else {}


class AutoSchema(StandardizedErrorsAutoSchema):
    """drf-standardized-errors' schema, also documenting ``?search=`` refusals."""

    def _get_validation_error_codes_by_field(self, data_fields):
        codes = super()._get_validation_error_codes_by_field(data_fields)
        if self.method == "GET" and any(
            isinstance(backend, SearchFilter)
            for backend in (cls() for cls in self.get_filter_backends())
        ):
            codes[SearchFilter.search_param].add("null_characters_not_allowed")
        return codes
