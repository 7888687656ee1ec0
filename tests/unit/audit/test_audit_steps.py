"""The audit's steps without a scheduler: per-run staging, unknowns for a source that is down, idempotency."""

from __future__ import annotations

import contextlib
import json
import types

import pandas as pd
import pytest
import requests

from oncall_readiness import audit
from oncall_readiness.errors import (
    ConnectionConfigError,
    ConnectionMissingError,
    DataQualityError,
    RegistryError,
    SourceError,
)
from oncall_readiness.source_catalogue import REGISTRY
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = audit.audit_instant("2026-11-16T00:00:00+00:00")
ROTATION = "check_id = 'rotation-sustainability'"


def a_run(run_id: str = "scheduled__2026-11-16T00:00:00+00:00") -> audit.AuditRun:
    return audit.AuditRun(INSTANT, run_id)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """Only what a test configures: the other sources have no connection, so they are skipped."""
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("READINESS_CATALOG", str(SAMPLE_CATALOG))
    monkeypatch.delenv("READINESS_HR_CSV", raising=False)
    for source in audit.sources_to_collect():
        monkeypatch.delenv(f"AIRFLOW_CONN_{source.upper()}_DEFAULT", raising=False)
    return tmp_path


def use_pagerduty(monkeypatch, url: str, token: str) -> None:
    conn = {"conn_type": "readiness_pagerduty", "host": url, "password": token}
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(conn))


def use_jsm_ops(monkeypatch, sandbox) -> None:
    """identity is on call in JSM Operations: its connection, aimed at the sandbox's emulator."""
    conn = {"conn_type": "readiness_jsm_ops", **sandbox.connections()["jsm_ops"]}
    monkeypatch.setenv("AIRFLOW_CONN_JSM_OPS_DEFAULT", json.dumps(conn))


def run_audit(warehouse_url: str, run: audit.AuditRun | None = None, corrupt=None) -> dict[str, int]:
    """The DAG's steps in order; ``corrupt(run)`` may tamper with staged facts before validation."""
    run = run or a_run()
    audit.stage_registry(run)
    audit.stage_quality(REGISTRY, run)
    for source in audit.sources_to_collect():
        # Airflow marks these tasks failed (or skipped, when not configured); the checks still run
        with contextlib.suppress(SourceError, DataQualityError, ConnectionConfigError):
            audit.stage_source(source, run)
            if corrupt:
                corrupt(run)
            audit.stage_quality(source, run)
    audit.stage_checks(run)
    audit.stage_scorecard(run, warehouse_url)
    return audit.publish(run, warehouse_url)


def test_audit_instant_is_the_data_interval_end_in_utc():
    assert audit.audit_instant("2026-11-16T01:00:00+01:00") == pd.Timestamp("2026-11-16T00:00:00Z")
    assert a_run().day.isoformat() == "2026-11-16"


def test_a_manual_run_without_logical_date_audits_as_of_its_run_after():
    dag_run = types.SimpleNamespace(
        run_id="manual__2026-11-20T09:30:00+00:00", run_after=pd.Timestamp("2026-11-20T09:30Z")
    )
    run = audit.AuditRun.of(None, dag_run)
    assert run.instant == pd.Timestamp("2026-11-20T09:30:00Z") and run.day.isoformat() == "2026-11-20"
    assert run.staging.folder.parent.name == "2026-11-20"  # never a NaT folder
    with pytest.raises(ValueError, match="audit instant is missing"):
        audit.audit_instant(None)


def test_sources_to_collect_follow_the_implemented_checks():
    assert audit.sources_to_collect() == [
        "pagerduty",
        "jsm_ops",
        "grafana",
        "prometheus",
        "github",
        "confluence",
        "chaos_calendar",
        "jira",
    ]


def test_pagerduty_down_makes_its_checks_unknown_and_still_publishes(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    run = a_run()
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.url("pagerduty"), "revoked-token")
        run_audit(url, run)
    status = run.staging.status("pagerduty")
    assert status["ok"] is False and "answered 401" in status["reason"]
    warehouse = Warehouse(url)
    results = warehouse.query(f"SELECT status, score, reason FROM readiness.check_results WHERE {ROTATION}")
    card = warehouse.query("SELECT level, fully_assessed, score FROM readiness.scorecard")
    warehouse.dispose()
    assert set(results["status"]) == {"unknown"} and results["score"].isna().all()
    assert results["reason"].str.contains("pagerduty data is unavailable: pagerduty: GET").all()
    assert "revoked-token" not in results["reason"].str.cat()
    assert not card["fully_assessed"].any()  # not scored down for what could not be read


def test_facts_failing_their_contract_make_the_checks_unknown_not_scored_down(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"

    def duplicate_users(run):
        users = run.staging.table_path("pagerduty", "pagerduty_users")
        frame = pd.read_parquet(users)
        pd.concat([frame, frame.head(1)]).to_parquet(users, index=False)

    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.url("pagerduty"), sandbox.token)
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
    assert set(failed["facts_table"]) == {"pagerduty_users"}
    # The Chaos Day calendar is optional: without its connection it is collected as not configured, and validated.
    assert set(quality["source"]) == {"registry", "pagerduty", "chaos_calendar"}
    assert set(quality[quality["source"] == "registry"]["success"]) == {True}
    assert published_users["n"].iloc[0] == 44  # the registry's facts are still published


def test_a_source_without_a_connection_is_not_audited_and_says_so(workspace):
    run = a_run()
    audit.stage_registry(run)
    with pytest.raises(ConnectionMissingError, match="'pagerduty_default' is not defined"):
        audit.stage_source("pagerduty", run)
    audit.stage_quality(REGISTRY, run)
    audit.stage_checks(run)
    results = run.staging.read("checks")["check_results"]
    results = results[results["check_id"] == "rotation-sustainability"]
    assert set(results["status"]) == {"unknown"}
    assert results["reason"].str.contains("Airflow connection 'pagerduty_default' is not defined").all()


def test_rerun_after_recovery_replaces_the_unknowns(workspace, monkeypatch):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_jsm_ops(monkeypatch, sandbox)
        use_pagerduty(monkeypatch, sandbox.url("pagerduty"), "revoked-token")
        run_audit(url, a_run("scheduled__2026-11-16"))
        use_pagerduty(monkeypatch, sandbox.url("pagerduty"), sandbox.token)
        written = run_audit(url, a_run("manual__2026-11-16-rerun"))
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
    run = a_run()
    with pytest.raises(RegistryError, match=r"catalog.yaml.*User 'ada'.*spec.profile.email"):
        audit.stage_registry(run)
    with pytest.raises(audit.RegistryNotValidated, match="did not load"):
        audit.stage_checks(run)


def test_an_unset_catalog_stops_the_audit_naming_both_ways(workspace, monkeypatch):
    monkeypatch.delenv("READINESS_CATALOG")
    monkeypatch.delenv("AIRFLOW_CONN_BACKSTAGE_DEFAULT", raising=False)
    with pytest.raises(RegistryError, match="no catalog: set READINESS_CATALOG .* connection 'backstage_default'"):
        audit.stage_registry(a_run())


# ---------------------------------------------------------------- issue 9: reruns never republish old data


def test_a_rerun_whose_registry_fails_never_publishes_the_previous_runs_facts(workspace, monkeypatch):
    """Defect 1: staging keyed by the date let a failed rerun score and publish the last run's files."""
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.url("pagerduty"), sandbox.token)
        run_audit(url, a_run("scheduled__2026-11-16"))
    rerun = a_run("manual__2026-11-16-rerun")
    monkeypatch.setenv("READINESS_CATALOG", str(workspace / "missing-catalog"))
    with pytest.raises(RegistryError):
        audit.stage_registry(rerun)
    # Its collect task was killed (no status at all) and its registry never loaded: nothing may go on.
    assert rerun.staging.status("pagerduty") == {"ok": False, "reason": "it was not collected in this run"}
    for step in (audit.stage_checks, audit.gather_facts):
        with pytest.raises(audit.RegistryNotValidated, match="manual__2026-11-16-rerun"):
            step(rerun)
    with pytest.raises(FileNotFoundError, match="not available"):
        audit.publish(rerun, url)


def test_a_collect_killed_midway_is_unknown_not_the_earlier_runs_facts(workspace, monkeypatch):
    """Defect 1: a collect task that dies (no mark_failed) must not leave an earlier run's facts in use."""
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.url("pagerduty"), sandbox.token)
        run_audit(url, a_run("scheduled__2026-11-16"))
    rerun = a_run("manual__2026-11-16-rerun")
    audit.stage_registry(rerun)
    audit.stage_quality(REGISTRY, rerun)
    # pagerduty's collect is killed here: this run never staged it
    audit.stage_checks(rerun)
    audit.stage_scorecard(rerun, url)
    audit.publish(rerun, url)
    warehouse = Warehouse(url)
    results = warehouse.query(f"SELECT status, reason FROM readiness.check_results WHERE {ROTATION}")
    users = warehouse.query("SELECT COUNT(*) AS n FROM readiness.facts_pagerduty_users")["n"].iloc[0]
    warehouse.dispose()
    assert set(results["status"]) == {"unknown"}
    assert results["reason"].str.contains("it was not collected in this run").all()
    assert users == 0  # defect 2: the earlier run's PagerDuty facts are not left under the date


def test_a_step_is_written_whole_or_not_at_all(workspace):
    run = a_run()
    run.staging.write("checks", {"check_results": pd.DataFrame({"team": ["a"]})})

    class Boom(RuntimeError):
        pass

    def fail(*args, **kwargs):
        raise Boom

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Boom):
        patch.setattr(pd.DataFrame, "to_parquet", fail)
        run.staging.write("checks", {"check_results": pd.DataFrame({"team": ["b"]}), "findings": pd.DataFrame()})
    assert run.staging.read("checks")["check_results"]["team"].tolist() == ["a"]  # the old step, whole
    assert [path.name for path in run.staging.folder.iterdir()] == ["checks"]  # no half-written leftovers


def test_two_runs_of_one_date_stage_apart(workspace):
    """A backfill and the scheduled run of the same date may overlap (backfills ignore max_active_runs)."""
    scheduled, backfill = a_run("scheduled__2026-11-16"), a_run("backfill__2026-11-16T00:00:00+00:00")
    scheduled.staging.write("checks", {"check_results": pd.DataFrame({"team": ["scheduled"]})})
    backfill.staging.write("checks", {"check_results": pd.DataFrame({"team": ["backfill"]})})
    assert scheduled.staging.read("checks")["check_results"]["team"].tolist() == ["scheduled"]
    assert backfill.staging.read("checks")["check_results"]["team"].tolist() == ["backfill"]
    assert scheduled.staging.folder != backfill.staging.folder


def test_an_empty_catalog_publishes_nothing_and_keeps_the_days_scorecard(workspace, monkeypatch):
    """Defect 2: an empty catalog loaded as zero teams, and publish wiped the day's scorecard."""
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    with running_sandbox() as sandbox:
        use_pagerduty(monkeypatch, sandbox.url("pagerduty"), sandbox.token)
        run_audit(url, a_run("scheduled__2026-11-16"))
    empty = workspace / "empty-catalog"
    empty.mkdir()
    monkeypatch.setenv("READINESS_CATALOG", str(empty))
    with pytest.raises(RegistryError, match="no teams"):
        run_audit(url, a_run("manual__2026-11-16-empty"))
    warehouse = Warehouse(url)
    teams = warehouse.query("SELECT COUNT(*) AS n FROM readiness.scorecard")["n"].iloc[0]
    warehouse.dispose()
    assert teams == 6


def test_a_source_failure_stores_a_safe_reason_and_not_the_client_text(workspace, monkeypatch):
    """Defect 3: requests' own error text (which held the token) became the reason of every team."""
    run = a_run()
    audit.stage_registry(run)
    conn = {"conn_type": "readiness_pagerduty", "host": "http://127.0.0.1:9", "password": "pd-secret-4711"}
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(conn))

    def leaky(*args, **kwargs):
        raise requests.exceptions.InvalidHeader("Invalid header value b'Token token=pd-secret-4711\\n'")

    monkeypatch.setattr(requests.Session, "get", leaky)
    with pytest.raises(SourceError) as raised:
        audit.stage_source("pagerduty", run)
    reason = run.staging.status("pagerduty")["reason"]
    assert (
        reason
        == str(raised.value)
        == (
            "PagerDuty could not be called: the connection's token is not a valid header value; "
            "the task log has the details."
        )
    )


def test_a_token_with_a_line_break_inside_is_a_connection_error_without_the_token(workspace, monkeypatch):
    run = a_run()
    audit.stage_registry(run)
    conn = {"conn_type": "readiness_pagerduty", "host": "http://127.0.0.1:9", "password": "pd-se\ncret-4711"}
    monkeypatch.setenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT", json.dumps(conn))
    with pytest.raises(ConnectionConfigError, match="line break or space inside it") as raised:
        audit.stage_source("pagerduty", run)
    reason = run.staging.status("pagerduty")["reason"]
    assert reason == str(raised.value) and "cret-4711" not in reason and "pd-se" not in reason
