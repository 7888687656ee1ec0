"""The catalogue is the source of truth: well-formed, backed by modules, and documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from oncall_readiness.checks.catalogue import CATALOGUE_PATH, load_catalogue
from oncall_readiness.checks.docs import render
from oncall_readiness.errors import CatalogueError

REPO = Path(__file__).resolve().parents[3]
DESIGN_CHECK_IDS = {
    "runbook-freshness",
    "alert-definitions",
    "dashboard-coverage",
    "joiner-permissions",
    "rotation-sustainability",
    "escalation-path",
    "incident-command",
    "oncall-load",
    "chaos-day",
    "availability-target",
    "post-incident-review",
}


def test_catalogue_holds_exactly_the_designed_check_ids():
    # External checks (kind: external, results pushed through the readiness API) are the organisation's own.
    computed = {check.id for check in load_catalogue().checks.values() if check.kind != "external"}
    assert computed == DESIGN_CHECK_IDS


def test_every_implemented_check_names_its_evaluate_function():
    for check in load_catalogue().implemented():
        evaluate = check.evaluator()
        assert callable(evaluate) and evaluate.__module__.startswith("oncall_readiness.checks."), check.id


def test_a_check_naming_a_missing_function_stops_at_load_naming_the_entry(tmp_path):
    document = yaml.safe_load(CATALOGUE_PATH.read_text())
    document["checks"][0]["function"] = "oncall_readiness.checks.rotation_sustainability:evaluat"
    broken = tmp_path / "checks.yaml"
    broken.write_text(yaml.safe_dump(document))
    with pytest.raises(
        CatalogueError, match=r"check 'rotation-sustainability': `function` .*evaluat.* does not resolve"
    ):
        load_catalogue(broken)
    document["checks"][0]["function"] = "os:getcwd"
    broken.write_text(yaml.safe_dump(document))
    with pytest.raises(CatalogueError, match="must name `oncall_readiness.checks.<module>:<function>`"):
        load_catalogue(broken)


def test_every_check_has_a_rubric_for_each_status_and_remediation():
    for check in load_catalogue().checks.values():
        assert set(check.rubric) == {"pass", "warn", "fail", "unknown"}, check.id
        assert check.remediation and check.rationale and check.weight > 0, check.id


def test_generated_docs_are_up_to_date():
    committed = (REPO / "docs" / "checks.md").read_text()
    assert committed == render(load_catalogue()), "docs/checks.md is stale: run `make docs`"
