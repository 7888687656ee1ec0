"""Holding the JSM Operations emulator and client to Atlassian's OpenAPI (the excerpt in tests/reference/jsm_ops/).

``operation(method, path)`` finds the spec's operation of a request path (``/v1/...`` below
``/jsm/ops/api/{cloudId}``); ``assert_response`` validates a body against the operation's
response schema for its status; ``assert_request`` checks a request's query against the
operation's declared parameters (names, types, bounds, enums).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_FILE = Path(__file__).resolve().parents[2] / "reference" / "jsm_ops" / "jsm-ops.openapi.json"
SPEC_URI = "urn:jsm-ops:openapi"
# Where the spec and JSM's own product differ: an escalation's first rule may notify at once
# (JSM's "Notify immediately", delay 0), which the published schema's minimum of 1 forbids.
SPEC_CORRECTIONS = {"/components/schemas/EscalationRuleResponse/properties/delay/minimum": 0}


def _set(document: dict, pointer: str, value: Any) -> None:
    *parents, last = pointer.lstrip("/").split("/")
    node = document
    for part in parents:
        node = node[part]
    node[last] = value


@pytest.fixture(scope="session")
def jsm_spec() -> dict:
    spec = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    for pointer, value in SPEC_CORRECTIONS.items():
        _set(spec, pointer, value)
    return spec


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


class Contract:
    def __init__(self, spec: dict):
        self.spec = spec
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))
        self.paths = {
            path: (_template(path.removeprefix("/api/{cloudId}")), item) for path, item in spec["paths"].items()
        }

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        """The spec path and operation of ``path`` (``/v1/...``); fails the test when there is none."""
        for name, (pattern, item) in self.paths.items():
            if pattern.match(path) and method.lower() in item:
                return name, item[method.lower()]
        pytest.fail(f"{method} {path} is not an operation of the OpenAPI excerpt")

    def _validator(self, schema: Any) -> OAS30Validator:
        return OAS30Validator(schema, registry=self.registry, format_checker=oas30_format_checker)

    def assert_response(self, path: str, status: int, body: Any, method: str = "get") -> None:
        name, operation = self.operation(method, path)
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method.upper()} {name} documents no {status} answer"
        schema = response["content"]["application/json"]["schema"]
        errors = sorted(self._validator({**schema, "components": self.spec["components"]}).iter_errors(body), key=str)
        assert not errors, f"{method.upper()} {name} {status}: " + "; ".join(e.message for e in errors[:5])

    def assert_request(self, method: str, url: str) -> None:
        parts = urlsplit(url)
        path = re.sub(r"^.*?/jsm/ops/api/[^/]+(?=/v1/)", "", parts.path)
        name, operation = self.operation(method, path)
        declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            assert key in declared, f"{method} {name}: query parameter {key!r} is not declared"
            schema = declared[key]["schema"]
            item = schema["items"] if schema.get("type") == "array" else schema
            typed: Any = value
            if item.get("type") == "integer":
                assert re.fullmatch(r"-?\d+", value), f"{name}: {key}={value!r} is not an integer"
                typed = int(value)
            errors = [
                e.message for e in self._validator({k: v for k, v in item.items() if k != "default"}).iter_errors(typed)
            ]
            assert not errors, f"{method} {name}: {key}={value!r}: {errors}"


@pytest.fixture(scope="session")
def contract(jsm_spec) -> Contract:
    return Contract(jsm_spec)


def ops_path(cloud_id: str, path: str) -> str:
    return f"/jsm/ops/api/{cloud_id}{path}"


def every_request(recorded: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """The recorded requests to the operations API (not the site's tenant info and users)."""
    return ((method, url) for method, url in recorded if "/jsm/ops/api/" in url)


def record(client: Any) -> list[tuple[str, str]]:
    """Record every request a client sends (method, full URL), through its session's hooks."""
    sent: list[tuple[str, str]] = []

    def hook(response: Any, *args: Any, **kwargs: Mapping[str, Any]) -> None:
        sent.append((response.request.method, response.request.url))

    client.session.hooks["response"].append(hook)
    return sent
