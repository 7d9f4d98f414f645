"""The OpenAPI document shows an example for every request body and 2xx response,
each valid against its own schema, and /api/docs/ renders it without a CDN.

Domain operations carry hand-written examples next to their views; the rest are
built from the schema by ``crm.openapi.postprocess_schema_examples``.
"""

from __future__ import annotations

import datetime
import json
import re
from functools import cache
from urllib.parse import urlsplit

import pytest
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft7Validator, FormatChecker

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
JSON = "application/json"
CSV = "text/csv"


# jsonschema checks "date-time" and "uri" only with optional packages: say here
# what the API means by them (ISO 8601 with a zone; an absolute URL).
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value) -> bool:
    return not isinstance(value, str) or (
        datetime.datetime.fromisoformat(value).tzinfo is not None
    )


@FORMATS.checks("uri")
def _is_uri(value) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is None or bool(parts.scheme and parts.netloc)


@cache
def openapi() -> dict:
    # Through JSON, as /api/schema/?format=json serves it (lazy strings, tuples).
    return json.loads(json.dumps(SchemaGenerator().get_schema(public=True)))


def _operations() -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in openapi()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _json_schema(schema):
    """Translate OpenAPI 3.0 to JSON Schema: ``nullable`` allows null, and an
    object documents all its keys (a misspelt or read-only key is an error)."""
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _json_schema(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    if schema.pop("nullable", False):
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


@cache
def _components() -> dict:
    return _json_schema(openapi()["components"])


def _errors(value, schema: dict) -> list[str]:
    root = {**_json_schema(schema), "components": _components()}
    validator = Draft7Validator(root, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(value)
    ]


def _examples(media: dict) -> dict:
    if "example" in media:
        return {"example": media["example"]}
    return {
        name: example["value"] for name, example in media.get("examples", {}).items()
    }


def _bodies(operation: dict) -> list[tuple[str, dict]]:
    """Return (where, media) of the request body and the 2xx JSON responses."""
    bodies = [
        (f"request {media_type}", media)
        for media_type, media in operation.get("requestBody", {})
        .get("content", {})
        .items()
    ]
    for status_code, response in operation["responses"].items():
        media = response.get("content", {}).get(JSON)
        if status_code.startswith("2") and media is not None:
            bodies.append((f"response {status_code}", media))
    return bodies


@pytest.mark.parametrize(
    ("path", "method", "operation"),
    _operations(),
    ids=[f"{method.upper()} {path}" for path, method, _ in _operations()],
)
def test_every_body_has_an_example_valid_for_its_schema(path, method, operation):
    for where, media in _bodies(operation):
        examples = _examples(media)
        assert examples, f"{where} has no example"
        for name, value in examples.items():
            errors = _errors(value, media["schema"])
            assert not errors, f"{where}, example {name!r}: {errors}"


def test_each_csv_export_shows_a_header_and_a_row():
    exports = [
        (path, response["content"][CSV])
        for path, _method, operation in _operations()
        for code, response in operation["responses"].items()
        if code.startswith("2") and CSV in response.get("content", {})
    ]
    # activities, companies, contacts, deals, leads, subscriptions, and the
    # download of an export job
    assert len(exports) == 7
    for path, media in exports:
        [value] = _examples(media).values()
        header, row, *rest = value.splitlines()
        assert header.startswith("id,"), path
        assert len(row.split(",")) >= len(header.split(",")), path
        assert rest == [], path


# Operations whose examples are written by hand, next to their views.
CURATED = [
    ("post", "/api/v1/auth/token/"),
    ("post", "/api/v1/subscriptions/"),
    ("post", "/api/v1/subscriptions/{id}/end/"),
    ("post", "/api/v1/webhooks/"),
    ("post", "/api/v1/capture/"),
    ("post", "/api/v1/leads/"),
    ("post", "/api/v1/leads/{id}/qualify/"),
    ("post", "/api/v1/leads/{id}/disqualify/"),
    ("post", "/api/v1/leads/{id}/convert/"),
    ("post", "/api/v1/deals/"),
    ("post", "/api/v1/deals/{id}/move/"),
    ("post", "/api/v1/deals/{id}/win/"),
    ("post", "/api/v1/deals/{id}/lose/"),
    ("post", "/api/v1/deals/{id}/reopen/"),
    ("get", "/api/v1/deals/{id}/history/"),
    ("post", "/api/v1/activities/"),
]


@pytest.mark.parametrize(("method", "path"), CURATED)
def test_domain_operations_have_hand_written_examples(method, path):
    operation = openapi()["paths"][path][method]
    for where, media in _bodies(operation):
        assert "Example" not in _examples(media), f"{where} has a generated example"


def test_a_converted_deal_is_the_one_that_moves_and_wins():
    paths = openapi()["paths"]

    def response(path, code="200"):
        media = paths[path]["post"]["responses"][code]["content"][JSON]
        [value] = _examples(media).values()
        return value

    converted = response("/api/v1/leads/{id}/convert/", "201")
    moved = response("/api/v1/deals/{id}/move/")
    won = response("/api/v1/deals/{id}/win/")
    assert converted["id"] == moved["id"] == won["id"]
    assert (converted["version"], moved["version"], won["version"]) == (1, 2, 3)
    assert (moved["stage"], won["status"]) == ("closing", "won")


def test_api_docs_render_offline(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r"https?://|//cdn", html) == []
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    # Static files, and the page's start-up script served as a file (the
    # Content-Security-Policy allows no inline script).
    script = "/api/docs/?script="
    assert all(a.startswith(("/static/", script)) for a in assets), assets
    start_up = client.get(script).content.decode()
    # Swagger UI would otherwise send the schema to validator.swagger.io.
    assert '"validatorUrl": null' in start_up
