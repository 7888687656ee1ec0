"""Campaigns and roll-ups in the audit's steps, without a scheduler and without sources (their checks are unknown).

The sample catalog: the department commerce is not audited as a team, its roll-up and the two
campaigns are published; a bad campaigns file stops the run at load_registry, like a bad catalog.
"""

from __future__ import annotations

import contextlib
import shutil

import pytest

from oncall_readiness import audit, campaigns
from oncall_readiness.errors import ConnectionConfigError, DataQualityError, SourceError
from oncall_readiness.source_catalogue import REGISTRY
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

INSTANT = audit.audit_instant("2026-11-16T00:00:00+00:00")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("READINESS_CATALOG", str(SAMPLE_CATALOG))
    monkeypatch.delenv("READINESS_HR_CSV", raising=False)
    monkeypatch.delenv(campaigns.CAMPAIGNS_ENV_VAR, raising=False)
    for source in audit.sources_to_collect():
        monkeypatch.delenv(f"AIRFLOW_CONN_{source.upper()}_DEFAULT", raising=False)
    return tmp_path


def test_the_audit_publishes_campaign_progress_and_the_roll_up_and_skips_the_department(workspace):
    url = f"duckdb:///{workspace / 'warehouse.duckdb'}"
    run = audit.AuditRun(INSTANT, "manual__1")
    audit.stage_registry(run)
    audit.stage_quality(REGISTRY, run)
    for source in audit.sources_to_collect():  # none is configured: every check reads unknown
        with contextlib.suppress(SourceError, DataQualityError, ConnectionConfigError):
            audit.stage_source(source, run)
    audit.stage_checks(run)
    audit.stage_scorecard(run, url)
    written = audit.publish(run, url)
    assert written["campaign_progress"] == 6 + 4 + 6 and written["scorecard_rollup"] == 1
    warehouse = Warehouse(url)
    try:
        card = warehouse.query("SELECT team, score, level FROM readiness.scorecard").set_index("team")
        progress = warehouse.query("SELECT campaign_id, team, meets, reason FROM readiness.campaign_progress")
        rollup = warehouse.query("SELECT group_name, score, level, teams, services FROM readiness.scorecard_rollup")
    finally:
        warehouse.dispose()
    assert "commerce" not in card.index and len(card) == 6
    rotations = progress[progress["campaign_id"] == "sustainable-rotations"]
    assert not rotations["meets"].any()  # PagerDuty was not read: rotation-sustainability is unknown for everyone
    assert rotations["reason"].str.startswith("Behind: rotation-sustainability is unknown").all()
    bronze = progress[progress["campaign_id"] == "commerce-bronze"].set_index("team")["meets"].to_dict()
    commerce = ["catalog", "checkout", "payments", "search"]
    assert bronze == {team: card.at[team, "level"] in ("gold", "silver", "bronze") for team in commerce}
    (department,) = rollup.to_dict("records")
    assert (department["group_name"], department["teams"], department["services"]) == ("commerce", 4, 15)
    assert department["level"] == "none"  # catalog and search could not be scored: they hold none


def test_a_bad_campaigns_file_stops_the_run_at_load_registry(workspace, monkeypatch):
    catalog = workspace / "catalog"
    shutil.copytree(SAMPLE_CATALOG, catalog)
    path = catalog / "readiness-campaigns.yaml"
    path.write_text(path.read_text().replace("checks: [rotation-sustainability]", "checks: [rotation-sustainabilty]"))
    monkeypatch.setenv("READINESS_CATALOG", str(catalog))
    run = audit.AuditRun(INSTANT, "manual__2")
    with pytest.raises(campaigns.CampaignError) as raised:
        audit.stage_registry(run)
    assert f"{path}:9: campaign 'sustainable-rotations' checks: unknown or not implemented check" in str(raised.value)
    assert not run.staging.status(REGISTRY).get("ok")  # nothing staged: every later step refuses to run
