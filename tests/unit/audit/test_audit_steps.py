"""The audit's steps without a scheduler: staging, unknowns for a source that is down, idempotency."""

from __future__ import annotations

import contextlib
import json

import pandas as pd
import pytest
from oncall_readiness import audit, staging
from oncall_readiness.registry import RegistryError
from oncall_readiness.sandbox.process import running_sandbox
from oncall_readiness.sources.http import SourceError
from oncall_readiness.warehouse import Warehouse

INSTANT = audit.audit_instant("2026-11-16T00:00:00+00:00")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.delenv("READINESS_CATALOG", raising=False)
    return tmp_path


def use_pagerduty(monkeypatch, url: str, token: str) -> None:
    conn = {"conn_type": "pagerduty", "host": url, "password": token}
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(conn))


def run_audit(warehouse_url: str) -> dict[str, int]:
    audit.stage_registry(INSTANT)
    for source in audit.sources_to_collect():
        with contextlib.suppress(SourceError):  # Airflow marks the task failed; the checks still run
            audit.stage_source(source, INSTANT)
    audit.stage_checks(INSTANT)
    audit.stage_scorecard(INSTANT, warehouse_url)
    return audit.publish(INSTANT, warehouse_url)


def test_audit_instant_is_the_data_interval_end_in_utc():
    assert audit.audit_instant("2026-11-16T01:00:00+01:00") == pd.Timestamp("2026-11-16T00:00:00Z")
    assert audit.audit_date(INSTANT).isoformat() == "2026-11-16"


def test_sources_to_collect_follow_the_implemented_checks():
    assert audit.sources_to_collect() == ["pagerduty"]


def test_pagerduty_down_makes_its_checks_unknown_and_still_publishes(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.pagerduty_url, "revoked-token")
        run_audit(url)
    status = staging.step_status(audit.audit_date(INSTANT), "pagerduty")
    assert status["ok"] is False and "answered 401" in status["reason"]
    warehouse = Warehouse(url)
    results = warehouse.query("SELECT status, score, reason FROM readiness.check_results")
    card = warehouse.query("SELECT level, unknown, score FROM readiness.scorecard")
    warehouse.dispose()
    assert set(results["status"]) == {"unknown"} and results["score"].isna().all()
    assert results["reason"].str.contains("pagerduty data is unavailable: SourceError: pagerduty: GET").all()
    assert "revoked-token" not in results["reason"].str.cat()
    assert set(card["level"]) == {"none"} and set(card["unknown"]) == {1} and card["score"].isna().all()


def test_rerun_after_recovery_replaces_the_unknowns(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.pagerduty_url, "revoked-token")
        run_audit(url)
        use_pagerduty(monkeypatch, sandbox.pagerduty_url, sandbox.token)
        written = run_audit(url)
    warehouse = Warehouse(url)
    results = warehouse.query("SELECT team, status FROM readiness.check_results")
    warehouse.dispose()
    assert written["check_results"] == 6 and len(results) == 6
    assert "unknown" not in set(results["status"])


def test_a_bad_catalog_stops_the_run_before_anything_is_published(workspace, monkeypatch):
    catalog = workspace / "catalog.yaml"
    catalog.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: ada}\nspec: {profile: {}, memberOf: []}\n"
    )
    monkeypatch.setenv("READINESS_CATALOG", str(catalog))
    with pytest.raises(RegistryError, match=r"catalog.yaml.*User 'ada'.*spec.profile.email"):
        audit.stage_registry(INSTANT)
    with pytest.raises(RuntimeError, match="the registry of 2026-11-16 did not load in this run"):
        audit.stage_checks(INSTANT)
