"""The published contract: valid, complete for client generators, identical to the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from api import openapi_document
from api.spec import NAMED_ENUMS

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text())
METHODS = {"get", "put", "post", "patch", "delete"}
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]
IDS = [f"{m} {p}" for m, p, _ in OPERATIONS]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = SPEC["components"]["schemas"][name]
    return node


def _response(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return dict(SPEC["components"]["responses"][node["$ref"].rsplit("/", 1)[-1]])
    return node


def _has_example(schema: dict[str, Any], depth: int = 0) -> bool:
    schema = _resolve(schema)
    if "example" in schema or "examples" in schema or depth > 4:
        return "example" in schema or "examples" in schema
    if schema.get("type") == "array" and "items" in schema:
        return _has_example(schema["items"], depth + 1)
    return any(_has_example(p, depth + 1) for p in schema.get("properties", {}).values())


def test_the_committed_spec_is_valid_openapi() -> None:
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.")


def test_the_committed_spec_matches_the_code(app: Flask) -> None:
    assert openapi_document(app) == (ROOT / "openapi.yaml").read_text()


def test_operation_ids_are_unique_and_readable() -> None:
    ids = [op["operationId"] for _, _, op in OPERATIONS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids


def _inline_enums(node: Any, where: str = "") -> list[tuple[str, frozenset[Any]]]:
    """Every enum written in place (not a named component), with where it sits."""
    found: list[tuple[str, frozenset[Any]]] = []
    if isinstance(node, dict):
        if "enum" in node:
            found.append((where, frozenset(v for v in node["enum"] if v is not None)))
        for key, value in node.items():
            found += _inline_enums(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _inline_enums(value, f"{where}/{i}")
    return found


def test_vocabularies_are_named_schemas_so_generated_type_names_stay_put() -> None:
    schemas = SPEC["components"]["schemas"]
    named = {name: frozenset(schemas[name]["enum"]) for name in NAMED_ENUMS}
    assert named == {name: frozenset(values) for name, values in NAMED_ENUMS.items()}
    inline = [
        (where, values)
        for where, values in _inline_enums(SPEC)
        if not where.startswith("/components/schemas/") or where.count("/") > 3
    ]
    # Wherever a region, tool, side or push status appears, it is a $ref to its name.
    assert [w for w, values in inline if values in named.values()] == []


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_is_documented_for_client_developers(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    assert operation.get("summary"), "no summary"
    responses = operation["responses"]
    assert any(code.startswith("2") or code == "302" for code in responses)
    for code, response in responses.items():
        if code[0] in "45" or code == "default":
            media = _response(response).get("content", {})
            assert "application/problem+json" in media, f"{code} is not a problem document"
    secured = operation.get("security", SPEC.get("security", []))
    if any("bearerAuth" in s for s in secured):
        assert "401" in responses, "bearer operation without 401"
    parameters = operation.get("parameters", [])
    takes_input = "requestBody" in operation or any(p["in"] == "query" for p in parameters)
    if takes_input and path != "/v1/report-pages/{token}":  # a page, not an API call
        assert "422" in responses, "input without 422"
    if "{" in path and method != "PUT":  # PUT creates what is missing
        assert "404" in responses, "path id without 404"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_json_body_carries_examples(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    bodies = []
    if "requestBody" in operation:
        bodies.append(operation["requestBody"]["content"])
    for code, response in operation["responses"].items():
        if code.startswith("2") and "content" in response:
            bodies.append(response["content"])
    for content in bodies:
        for media_type, media in content.items():
            if "json" not in media_type:
                continue
            assert "example" in media or "examples" in media or _has_example(media["schema"]), (
                f"{media_type} without an example"
            )


def test_the_app_serves_the_spec_and_offline_docs(client: FlaskClient) -> None:
    served = client.get("/openapi.yaml")
    assert served.status_code == 200
    assert yaml.safe_load(served.data) == SPEC
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()
    assets = re.findall(rb"""(?:src|href)=["']([^"']+)["']""", docs.data)
    assert assets
    for asset in assets:
        url = asset.decode()
        assert not url.startswith(("http://", "https://", "//")), f"external asset {url}"
        assert client.get(url).status_code == 200, url


def test_health_checks_answer(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
