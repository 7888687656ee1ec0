"""The catalogue is the source of truth: well-formed, backed by modules, and documented."""

from __future__ import annotations

import importlib
from pathlib import Path

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.docs import render

REPO = Path(__file__).resolve().parents[3]
DESIGN_CHECK_IDS = {
    "runbook-freshness",
    "alert-definitions",
    "dashboard-coverage",
    "joiner-permissions",
    "rotation-sustainability",
    "escalation-path",
    "oncall-load",
    "chaos-day",
}


def test_catalogue_holds_exactly_the_designed_check_ids():
    assert set(load_catalogue().checks) == DESIGN_CHECK_IDS


def test_every_implemented_check_has_a_module_with_evaluate():
    for check in load_catalogue().implemented():
        module = importlib.import_module(f"oncall_readiness.checks.{check.module_name}")
        assert callable(module.evaluate), check.id


def test_every_check_has_a_rubric_for_each_status_and_remediation():
    for check in load_catalogue().checks.values():
        assert set(check.rubric) == {"pass", "warn", "fail", "unknown"}, check.id
        assert check.remediation and check.rationale and check.weight > 0, check.id


def test_generated_docs_are_up_to_date():
    committed = (REPO / "docs" / "checks.md").read_text()
    assert committed == render(load_catalogue()), "docs/checks.md is stale: run `make docs`"
