"""The audit's steps without a scheduler: staging, unknowns for a source that is down, idempotency."""

from __future__ import annotations

import contextlib
import json

import pandas as pd
import pytest

from oncall_readiness import audit, staging
from oncall_readiness.connections import ConnectionConfigError
from oncall_readiness.quality import DataQualityError
from oncall_readiness.registry import RegistryError
from oncall_readiness.sandbox.process import running_sandbox
from oncall_readiness.sources.http import SourceError
from oncall_readiness.warehouse import Warehouse

INSTANT = audit.audit_instant("2026-11-16T00:00:00+00:00")


ROTATION = "check_id = 'rotation-sustainability'"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """Only what a test configures: the other sources have no connection, so they are skipped."""
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.delenv("READINESS_CATALOG", raising=False)
    for source in audit.sources_to_collect():
        monkeypatch.delenv(f"AIRFLOW_CONN_{source.upper()}_DEFAULT", raising=False)
    return tmp_path


def use_pagerduty(monkeypatch, url: str, token: str) -> None:
    conn = {"conn_type": "pagerduty", "host": url, "password": token}
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(conn))


def run_audit(warehouse_url: str, corrupt=None) -> dict[str, int]:
    """The DAG's steps in order; ``corrupt(day)`` may tamper with staged facts before validation."""
    audit.stage_registry(INSTANT)
    audit.stage_quality("registry", INSTANT)
    for source in audit.sources_to_collect():
        # Airflow marks these tasks failed (or skipped, when not configured); the checks still run
        with contextlib.suppress(SourceError, DataQualityError, ConnectionConfigError):
            audit.stage_source(source, INSTANT)
            if corrupt:
                corrupt(audit.audit_date(INSTANT))
            audit.stage_quality(source, INSTANT)
    audit.stage_checks(INSTANT)
    audit.stage_scorecard(INSTANT, warehouse_url)
    return audit.publish(INSTANT, warehouse_url)


def test_audit_instant_is_the_data_interval_end_in_utc():
    assert audit.audit_instant("2026-11-16T01:00:00+01:00") == pd.Timestamp("2026-11-16T00:00:00Z")
    assert audit.audit_date(INSTANT).isoformat() == "2026-11-16"


def test_sources_to_collect_follow_the_implemented_checks():
    assert audit.sources_to_collect() == ["confluence", "github", "grafana", "pagerduty", "prometheus"]


def test_pagerduty_down_makes_its_checks_unknown_and_still_publishes(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.pagerduty_url, "revoked-token")
        run_audit(url)
    status = staging.step_status(audit.audit_date(INSTANT), "pagerduty")
    assert status["ok"] is False and "answered 401" in status["reason"]
    warehouse = Warehouse(url)
    results = warehouse.query(f"SELECT status, score, reason FROM readiness.check_results WHERE {ROTATION}")
    card = warehouse.query("SELECT level, fully_assessed, score FROM readiness.scorecard")
    warehouse.dispose()
    assert set(results["status"]) == {"unknown"} and results["score"].isna().all()
    assert results["reason"].str.contains("pagerduty data is unavailable: SourceError: pagerduty: GET").all()
    assert "revoked-token" not in results["reason"].str.cat()
    assert not card["fully_assessed"].any()  # not scored down for what could not be read


def test_facts_failing_their_contract_make_the_checks_unknown_not_scored_down(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"

    def duplicate_users(day):
        users = staging.step_dir(day, "pagerduty") / "pagerduty_users.parquet"
        frame = pd.read_parquet(users)
        pd.concat([frame, frame.head(1)]).to_parquet(users, index=False)

    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.pagerduty_url, sandbox.token)
        run_audit(url, corrupt=duplicate_users)
    warehouse = Warehouse(url)
    results = warehouse.query(f"SELECT team, status, score, reason FROM readiness.check_results WHERE {ROTATION}")
    card = warehouse.query("SELECT team, level, fully_assessed FROM readiness.scorecard")
    quality = warehouse.query("SELECT source, facts_table, expectation, success FROM readiness.data_quality")
    published_users = warehouse.query("SELECT COUNT(*) AS n FROM readiness.facts_registry_people")
    warehouse.dispose()
    assert set(results["status"]) == {"unknown"} and results["score"].isna().all()
    assert (
        results["reason"]
        .str.contains(
            "pagerduty data is unavailable: it failed validation with 2 failed expectations: "
            "pagerduty_users: expect_column_values_to_be_unique(column=user_id)",
            regex=False,
        )
        .all()
    )
    assert len(card) == 6 and not card["fully_assessed"].any()
    failed = quality[~quality["success"]]
    assert set(failed["facts_table"]) == {"pagerduty_users"} and set(quality["source"]) == {"registry", "pagerduty"}
    assert set(quality[quality["source"] == "registry"]["success"]) == {True}
    assert published_users["n"].iloc[0] == 40  # the registry's facts are still published


def test_a_source_without_a_connection_is_not_audited_and_says_so(workspace, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", raising=False)
    audit.stage_registry(INSTANT)
    with pytest.raises(ConnectionConfigError, match="'pagerduty_default' is not defined"):
        audit.stage_source("pagerduty", INSTANT)
    audit.stage_checks(INSTANT)
    results = staging.read_step(audit.audit_date(INSTANT), "checks")["check_results"]
    results = results[results["check_id"] == "rotation-sustainability"]
    assert set(results["status"]) == {"unknown"}
    assert results["reason"].str.contains("Airflow connection 'pagerduty_default' is not defined").all()


def test_rerun_after_recovery_replaces_the_unknowns(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.pagerduty_url, "revoked-token")
        run_audit(url)
        use_pagerduty(monkeypatch, sandbox.pagerduty_url, sandbox.token)
        written = run_audit(url)
    warehouse = Warehouse(url)
    results = warehouse.query(f"SELECT team, status FROM readiness.check_results WHERE {ROTATION}")
    every = warehouse.query("SELECT COUNT(*) AS n FROM readiness.check_results")["n"].iloc[0]
    warehouse.dispose()
    assert written["check_results"] == every and len(results) == 6  # replaced, not added
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
