"""End to end: readiness_audit on the sample organisation read both ways, from the catalog's files and from
the sandbox's Backstage catalog API, gives the same scorecard row for row; the score-card export follows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.demo import DEMO_AUDIT_DATE, airflow_env, run_audit
from readiness_sandbox.external_results import seed_external_results
from readiness_sandbox.process import running_sandbox
from readiness_sandbox.prometheus import running_prometheus
from readiness_sandbox.sample_org import CATALOG

pytestmark = pytest.mark.e2e

TABLES = {
    "scorecard": "team, score, level, passed, warned, failed, unknown, fully_assessed",
    "check_results": "team, check_id, status, score, reason, remediation",
    "findings": "team, check_id, subject, outcome, message",
    "scorecard_rollup": "group_name, group_type, parent, score, level, teams, services",
    "waivers": "team, check_id, subject, reason, approver, approved, expires, active",
    "campaign_progress": "campaign_id, team, meets, reason, due",
}


@pytest.fixture(scope="module")
def audited_both_ways(tmp_path_factory, airflow_metadata):
    """The demo date audited from the files, then from the catalog API (the sandbox and Prometheus shared)."""
    tmp = tmp_path_factory.mktemp("registry-both-ways")
    warehouses = {}
    with running_sandbox() as sandbox, running_prometheus() as prometheus:
        for way in ("files", "backstage"):
            home = tmp / way
            airflow_metadata(home / "airflow" / "airflow.db")
            env = airflow_env(
                airflow_home=home / "airflow",
                sandbox=sandbox,
                warehouse=home / "warehouse.duckdb",
                staging=home / "staging",
                prometheus_url=prometheus.base_url,
                registry_api=way == "backstage",
            )
            env["READINESS_BACKSTAGE_EXPORT"] = str(home / "backstage")
            seed_external_results(f"duckdb:///{home / 'warehouse.duckdb'}")
            run_audit(env, DEMO_AUDIT_DATE, home / "audit.log")
            warehouses[way] = Warehouse(f"duckdb:///{home / 'warehouse.duckdb'}")
    yield warehouses, tmp
    for warehouse in warehouses.values():
        warehouse.dispose()


def test_the_api_run_read_the_registry_from_backstage(audited_both_ways):
    _, tmp = audited_both_ways
    log = (tmp / "backstage" / "audit.log").read_text()
    assert "Registry: 7 teams, 44 people, 21 services" in log
    warehouse = audited_both_ways[0]["backstage"]
    sources = warehouse.query("SELECT DISTINCT source_file FROM readiness.facts_registry_teams")["source_file"]
    assert all(source.startswith(str(CATALOG)) for source in sources)  # Backstage's managed-by-location


@pytest.mark.parametrize("table", TABLES)
def test_both_ways_give_the_same_rows(audited_both_ways, table):
    warehouses, _ = audited_both_ways
    columns = TABLES[table]
    order = ", ".join(column.strip() for column in columns.split(",")[:3])
    rows = {
        way: warehouse.query(f"SELECT {columns} FROM readiness.{table} ORDER BY {order}")
        for way, warehouse in warehouses.items()
    }
    assert len(rows["files"]) > 0
    pd.testing.assert_frame_equal(rows["files"], rows["backstage"], check_exact=True)  # NaN equal to NaN


def test_the_export_holds_every_team_and_service_and_is_the_same_both_ways(audited_both_ways):
    warehouses, tmp = audited_both_ways
    services = warehouses["files"].query("SELECT service FROM readiness.facts_registry_services")["service"]
    teams = warehouses["files"].query("SELECT team FROM readiness.scorecard")["team"]
    groups = warehouses["files"].query("SELECT group_name FROM readiness.scorecard_rollup")["group_name"]
    exported = {way: tmp / way / "backstage" for way in warehouses}
    expected = {f"default/component/{s.lower()}.json" for s in services} | {
        f"default/group/{g.lower()}.json" for g in [*teams, *groups]
    }
    for folder in exported.values():
        written = {path.relative_to(folder).as_posix() for path in folder.rglob("*.json")}
        assert written == expected | {"all.json", "_export.json"}
    for name in expected:
        assert json.loads((exported["files"] / name).read_text()) == json.loads(
            (exported["backstage"] / name).read_text()
        )
    payments = json.loads((exported["files"] / "default/group/payments.json").read_text())
    card = warehouses["files"].query("SELECT score, level FROM readiness.scorecard WHERE team = 'payments'")
    assert payments["scorePercent"] == round(card["score"][0]) and payments["scoreLabel"].lower() == card["level"][0]
