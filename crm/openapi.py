"""Examples built from the OpenAPI schema itself, for what views leave undocumented.

The domain operations carry hand-written ``OpenApiExample``s next to their views
(``*/api_examples.py``); every other request body and 2xx response gets one
example here, the simplest value its schema accepts (``$ref``s resolved, enums,
formats, lengths and patterns honoured), so that ``/api/docs/`` and generated
clients show a value for every operation. ``tests/test_openapi_examples.py``
validates each example against its schema.
"""

from __future__ import annotations

import copy
import csv
import io
import re
from typing import Any

PAGE_KEYS = frozenset({"count", "next", "previous", "results"})
HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete"})
JSON = "application/json"
CSV = "text/csv"
EXAMPLE_NAME = "Example"
EXAMPLE_SUMMARY = "Built from the schema"
# Deep enough for Funnel -> FunnelStage, shallow enough to stop a cyclic $ref.
MAX_DEPTH = 8
EXAMPLE_NUMBER = 42
# The value of a string of each format; "" for a plain string.
FORMAT_VALUES = {
    "date": "2026-10-05",
    "date-time": "2026-10-05T09:30:00Z",
    "email": "ada@analytical.example",
    "uri": "https://crm-hooks.example.com/in",
    "uuid": "3f2b8c1e-9d4a-4e6f-8a7b-1c2d3e4f5a6b",
    "binary": "",
    "decimal": "1.00",
}


def postprocess_schema_examples(result: dict, generator, request, public) -> dict:
    """Give every request body and 2xx response without an example one."""
    components = result.get("components", {}).get("schemas", {})
    exports = []
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            body = operation.get("requestBody", {}).get("content", {})
            json_media = body.get(JSON)
            if json_media is not None and not _has_example(json_media):
                _set_example(json_media, example_for(json_media["schema"], components))
            for media in body.values():
                if _has_example(media):
                    continue
                # Form encodings of a body show the JSON one's (hand-written) examples.
                if json_media is not None:
                    media.update(
                        copy.deepcopy(
                            {k: v for k, v in json_media.items() if "example" in k}
                        )
                    )
                else:
                    _set_example(media, example_for(media["schema"], components))
            for status_code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if not str(status_code).startswith("2"):
                    continue
                if JSON in content and not _has_example(content[JSON]):
                    _set_example(
                        content[JSON],
                        example_for(content[JSON]["schema"], components, "response"),
                    )
                if CSV in content and not _has_example(content[CSV]):
                    exports.append((path, method, content[CSV]))
    # After the loop: an export's row is taken from its list's example.
    columns = _export_columns(generator)
    for path, method, media in exports:
        _set_example(media, csv_example(columns.get((path, method)), path, result))
    return result


def _has_example(media: dict) -> bool:
    return bool(media.get("examples")) or "example" in media


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
    schema: dict, components: dict, direction: str = "request", depth: int = 0
) -> Any:
    """Return a value valid for ``schema``; ``direction`` drops read/write-only."""
    schema = resolve(schema, components)
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return example_for(schema[key][0], components, direction, depth)
    if depth > MAX_DEPTH:
        return None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        skip = "readOnly" if direction == "request" else "writeOnly"
        return {
            name: example_for(prop, components, direction, depth + 1)
            for name, prop in schema.get("properties", {}).items()
            if not (prop.get(skip) or resolve(prop, components).get(skip))
        }
    if kind == "array":
        item = example_for(schema.get("items", {}), components, direction, depth)
        return [item] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        # Not 1: tests/test_api_contract.py sends every example, and an id in
        # an example must not happen to be the first user or team of the test
        # database (the answer would depend on whose record that is).
        value = max(EXAMPLE_NUMBER, schema.get("minimum", EXAMPLE_NUMBER))
        return min(value, schema.get("maximum", value))
    if kind == "boolean":
        return True
    if kind == "string":
        return _string_for(schema)
    return None


def _string_for(schema: dict) -> str:
    value = FORMAT_VALUES.get(schema.get("format", ""), "example")
    minimum, maximum = schema.get("minLength", 0), schema.get("maxLength")
    if len(value) < minimum:
        value = (value * (minimum // max(len(value), 1) + 1))[: max(minimum, 1)]
    if maximum is not None:
        value = value[:maximum]
    pattern = schema.get("pattern")
    if pattern is not None and not re.search(pattern, value):
        raise ValueError(f"No example for the pattern {pattern!r}: add a format.")
    return value


def _export_columns(generator) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Map (path, method) of the CSV exports to their model's (header, field)s."""
    columns = {}
    for path, _regex, method, callback in getattr(generator, "endpoints", None) or []:
        view_class = getattr(callback, "cls", None)
        model = getattr(getattr(view_class, "queryset", None), "model", None)
        if hasattr(model, "CSV_COLUMNS"):
            columns[(path, method.lower())] = list(model.CSV_COLUMNS)
    return columns


def csv_example(columns: list[tuple[str, str]] | None, path: str, result: dict) -> str:
    """Return a header row and one row of an export, from its list's example.

    A column the list's row lacks (a related name such as ``owner__username``)
    is left empty.
    """
    item = _list_item_example(path, result)
    columns = columns or [(key, key) for key in item]
    row = []
    for _header, field in columns:
        value = item.get("id" if field == "pk" else field.removesuffix("_id"))
        if isinstance(value, bool):
            value = "true" if value else "false"
        row.append("" if value is None else str(value))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([[header for header, _field in columns], row])
    return buffer.getvalue()


def _list_item_example(path: str, result: dict) -> dict:
    """Return the first row of the sibling list's example (``…/export/`` -> ``…/``)."""
    list_path = path.removesuffix("export/")
    try:
        media = result["paths"][list_path]["get"]["responses"]["200"]["content"][JSON]
        page = next(iter(media["examples"].values()))["value"]
    except (KeyError, StopIteration):
        return {}
    rows = page.get("results", []) if isinstance(page, dict) else page
    return rows[0] if rows and isinstance(rows[0], dict) else {}
