"""End to end: the real incident_cost_watch DAG under `airflow dags test`, against the PagerDuty emulator.

One incident stays open across three runs (35, 65 and 70 minutes after it triggered) and the
second run is retried after "dying" between its post and its record: the notes on the incident
are exactly the milestones crossed, 30 and 60 minutes, once each. The runs are `airflow dags
test` in one process (tests/dags/incident_cost_watch_runs.py). The prices are the sample
organisation's (checkout-api: GBP 85 a minute; checkout-tax has none).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from oncall_readiness.sources.pagerduty import PagerDutyClient
from readiness_sandbox.demo import airflow_env
from readiness_sandbox.process import running_sandbox

pytestmark = pytest.mark.e2e

DAG_ID = "incident_cost_watch"
BOT = "oncall-bot@example.com"
# The account: open, resolved, unpriced and low-urgency incidents (its header says which).
ACCOUNT = Path(__file__).parents[1] / "fixtures" / "cost_watch_pagerduty.yaml"
# Three runs while Q0CHK001 is open: 35, 65 and 70 minutes after it triggered.
RUNS = ["2026-11-16T00:35:00+00:00", "2026-11-16T01:05:00+00:00", "2026-11-16T01:10:00+00:00"]
RUNNER = Path(__file__).with_name("incident_cost_watch_runs.py")
READ_ONLY_KEY, NOTES_KEY = "audit-read-only-key", "cost-watch-notes-key"


def with_fields(connection: str, **fields: object) -> str:
    return json.dumps(json.loads(connection) | fields)


def note(minutes: int) -> str:
    return f"Estimated loss so far: {minutes} min x GBP 85/min = GBP {minutes * 85:,} (checkout-api)"


@pytest.fixture(scope="module")
def watched(tmp_path_factory, airflow_metadata):
    tmp = tmp_path_factory.mktemp("watch-e2e")
    warehouse = tmp / "warehouse.duckdb"
    # The listing reads with a read-only key (PagerDuty would refuse a note posted with it), the notes
    # go through pagerduty_notes: the run proves the watch writes only through its own connection.
    with running_sandbox(states={"pagerduty": ACCOUNT}, token=NOTES_KEY, read_only_tokens=[READ_ONLY_KEY]) as sandbox:
        env = airflow_env(airflow_home=tmp / "airflow", sandbox=sandbox, warehouse=warehouse, staging=tmp / "staging")
        env["AIRFLOW_CONN_PAGERDUTY_DEFAULT"] = with_fields(
            env["AIRFLOW_CONN_PAGERDUTY_DEFAULT"], password=READ_ONLY_KEY
        )
        env["AIRFLOW_CONN_PAGERDUTY_NOTES"] = with_fields(env["AIRFLOW_CONN_PAGERDUTY_NOTES"], extra={"from": BOT})
        env.pop("READINESS_PAGERDUTY_FROM", None)
        env.pop("READINESS_CURRENCY", None)
        airflow_metadata(tmp / "airflow" / "airflow.db")  # migrated: env's SQLite metadata database
        log = tmp / "runs.log"
        with log.open("w") as out:
            runs = subprocess.run(
                [sys.executable, str(RUNNER), env["AIRFLOW__CORE__DAGS_FOLDER"], *RUNS, "--die-after-post", RUNS[1]],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        assert runs.returncode == 0, f"a run of {DAG_ID} failed; log: {log}"
        client = PagerDutyClient(sandbox.token, base_url=sandbox.url("pagerduty"))
        notes = {incident: client.get(f"/incidents/{incident}/notes")["notes"] for incident in ("Q0CHK001", "Q0CHK002")}
    yield notes, warehouse, log.read_text()


def test_the_notes_are_exactly_the_milestones_crossed(watched):
    notes, _, log = watched
    assert [n["content"] for n in notes["Q0CHK001"]] == [note(35), note(65)]
    # The second run's first try posted, then died before recording it; its retry found the note.
    assert "the worker died after posting the note" in log
    assert "the note of milestone 60 min was already on the incident; recorded it" in log


def test_a_resolved_incident_gets_no_note(watched):
    notes, _, _ = watched
    assert notes["Q0CHK002"] == []


def test_the_ledger_and_the_open_incidents_after_the_last_run(watched):
    _, warehouse, _ = watched
    engine = sa.create_engine(f"duckdb:///{warehouse}")
    with engine.connect() as conn:
        ledger = conn.execute(
            sa.text("SELECT milestone_minutes, posted_at IS NOT NULL FROM readiness.incident_cost_notes ORDER BY 1")
        ).fetchall()
        open_costs = conn.execute(
            sa.text("SELECT incident_id, minutes, estimated_loss FROM readiness.open_incident_costs ORDER BY 1")
        ).fetchall()
    engine.dispose()
    assert [tuple(row) for row in ledger] == [(30, True), (60, True)]
    assert [tuple(row) for row in open_costs] == [("Q0CHK001", 70, 5950.0), ("Q0CHK003", 130, None)]
