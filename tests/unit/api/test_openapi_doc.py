"""docs/api-openapi.json is the API's OpenAPI schema as FastAPI generates it (regenerate: see docs/api.md)."""

from __future__ import annotations

import json
from pathlib import Path

from oncall_readiness.api import app

DOC = Path(__file__).resolve().parents[3] / "docs" / "api-openapi.json"


def test_the_documented_schema_is_current():
    assert json.loads(DOC.read_text()) == json.loads(json.dumps(app.openapi())), (
        "docs/api-openapi.json is stale: .venv/bin/python -m oncall_readiness.api.openapi > docs/api-openapi.json"
    )


def test_every_route_is_documented_in_api_md():
    api_md = (DOC.parent / "api.md").read_text()
    for path, methods in app.openapi()["paths"].items():
        for method in methods:
            assert f"{method.upper()} /readiness/api{path}" in api_md, f"{method.upper()} {path} is not in docs/api.md"


def test_the_gate_offers_the_scorecards_levels():
    from oncall_readiness import api, schema

    for path in ("/v1/gate/teams/{team}", "/v1/gate/services/{service}"):
        (min_level,) = [p for p in api.app.openapi()["paths"][path]["get"]["parameters"] if p["name"] == "min_level"]
        assert min_level["schema"]["enum"] == list(schema.LEVELS)
