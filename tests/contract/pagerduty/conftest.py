"""Checking the emulator's answers against PagerDuty's OpenAPI spec (shared reference material).

The spec is read once per session from ``<repo>/../shared/reference/pagerduty/`` (never
copied into the repository); tests that need it skip when that folder is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO_ROOT = Path(__file__).resolve().parents[3]
SPEC_FILE = REPO_ROOT.parent / "shared" / "reference" / "pagerduty" / "openapiv3.json"
SPEC_URI = "urn:pagerduty:openapiv3"

# Where the emulator answers null but the spec lacks `nullable: true`. The on-call, layer
# and incident ones are PagerDuty's documented behaviour (quoted); for descriptions never
# set, null is the emulator's choice, so that clients learn to cope with it.
NULLABLE_IN_PRACTICE = {
    # "If `null`, the on-call is a permanent user on-call" (a user targeted directly).
    "/components/schemas/Oncall/properties/start",
    "/components/schemas/Oncall/properties/end",
    "/components/schemas/Oncall/properties/schedule",
    # "If `null`, the layer does not end."
    "/components/schemas/ScheduleLayer/properties/end",
    # "The time the incident became resolved or `null` if the incident is not resolved."
    "/components/schemas/Incident/allOf/1/properties/resolved_at",
    # An incident without a priority has `"priority": null`; Analytics leaves out what it lacks.
    "/components/schemas/Incident/allOf/1/properties/priority",
    "/components/schemas/AnalyticsRawIncident/properties/team_id",
    "/components/schemas/AnalyticsRawIncident/properties/seconds_to_first_ack",
    "/components/schemas/AnalyticsRawIncident/properties/seconds_to_engage",
    "/components/schemas/AnalyticsRawIncident/properties/seconds_to_mobilize",
    "/components/schemas/AnalyticsRawIncident/properties/resolved_by_user_id",
    "/components/schemas/AnalyticsRawIncident/properties/resolved_by_user_name",
    # Null before the service's first incident (PagerDuty sends null), and unset descriptions.
    "/components/schemas/Service/allOf/1/properties/last_incident_timestamp",
    "/components/schemas/Service/allOf/1/properties/description",
    "/components/schemas/Team/allOf/1/properties/description",
    "/components/schemas/Schedule/allOf/1/properties/description",
    "/components/schemas/EscalationPolicy/allOf/1/properties/description",
}
_NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}
# Where the spec is wrong: PagerDuty's user ids are strings (e.g. "PXPGF42"), also in Analytics.
SPEC_CORRECTIONS = {
    "/components/schemas/AnalyticsResponderMetrics/properties/responder_id": {"type": "string"},
    # Cursors are null on an empty page.
    "/paths/~1analytics~1raw~1incidents/post/responses/200/content/application~1json/schema/properties/first": {
        "type": "string",
        "nullable": True,
    },
    "/paths/~1analytics~1raw~1incidents/post/responses/200/content/application~1json/schema/properties/last": {
        "type": "string",
        "nullable": True,
    },
}


def _resolve(document: dict, pointer: str):
    node = document
    for part in pointer.lstrip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _allow_null(spec: dict, pointer: str) -> None:
    schema = _resolve(spec, pointer)
    if "$ref" in schema:  # siblings of $ref are ignored: wrap it
        schema["oneOf"] = [{"$ref": schema.pop("$ref")}, _NULL_ONLY]
    elif "type" in schema:
        schema["nullable"] = True
    else:  # a bare oneOf: nullable needs a type in OAS 3.0, so add a null-only branch
        schema.setdefault("oneOf", []).append(_NULL_ONLY)


def _response_schema_pointer(spec: dict, path: str, status: int, method: str = "get") -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/{method}/responses/{status}"
    response = _resolve(spec, pointer)
    while "$ref" in response:  # responses may point at #/components/responses/...
        pointer = response["$ref"].lstrip("#")
        response = _resolve(spec, pointer)
    return pointer + "/content/application~1json/schema"


@pytest.fixture(scope="session")
def pagerduty_spec() -> dict:
    if not SPEC_FILE.is_file():
        pytest.skip(f"PagerDuty OpenAPI spec not found at {SPEC_FILE} (shared reference missing)")
    spec = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    for pointer in NULLABLE_IN_PRACTICE:
        _allow_null(spec, pointer)
    for pointer, schema in SPEC_CORRECTIONS.items():
        _resolve(spec, pointer).clear()
        _resolve(spec, pointer).update(schema)
    return spec


@pytest.fixture(scope="session")
def assert_matches_spec(pagerduty_spec):
    """``assert_matches_spec(path, body, status=200)``: the body fits the spec's GET response schema.

    ``.post(path, body, status=200)`` checks a POST response, ``.component(name, body)`` one schema.
    """
    resource = Resource.from_contents(pagerduty_spec, default_specification=DRAFT4)
    registry = Registry().with_resource(SPEC_URI, resource)

    def check(path: str, body: object, status: int = 200) -> None:
        _validate(_response_schema_pointer(pagerduty_spec, path, status), body, f"GET {path} {status}")

    def _validate(pointer: str, body: object, what: str) -> None:
        validator = OAS30Validator(
            {"$ref": f"{SPEC_URI}#{pointer}"},
            registry=registry,
            format_checker=oas30_format_checker,
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        details = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:10]]
        assert not errors, f"{what} does not match the spec:\n" + "\n".join(details)

    check.post = lambda path, body, status=200: _validate(
        _response_schema_pointer(pagerduty_spec, path, status, "post"), body, f"POST {path} {status}"
    )
    # An object that an include[] expands: the spec's response schemas only show references.
    check.component = lambda name, body: _validate(f"/components/schemas/{name}", body, name)
    return check
