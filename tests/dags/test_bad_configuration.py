"""Configuration that no retry can fix fails the audit's load_registry once, naming where and what.

A bad catalog, a bad per-team threshold, a bad waiver, a bad campaign and a bad HR row: each
is a copy of the sample organisation with one mistake, audited with the real DAG under
`airflow dags test` (one process, tests/dags/bad_configuration_runs.py). Each run's
load_registry must fail on its first try (a retry would show as a second try: the runner makes
the retry delay one second), with the file, the line or entity and the field in its log, and
nothing after it may run.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from readiness_sandbox.sample_org import CATALOG, HR_EXPORT

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("bad_configuration_runs.py")

# name -> (file in the catalog copy, the text replaced, its replacement, what the log must say)
MISTAKES = {
    "catalog": (
        "payments.yaml",
        'readiness/start-date: "2026-09-14"',
        'readiness/start-date: "2026-13-14"',
        "payments.yaml: User 'sofia-rossi' metadata.annotations.readiness/start-date: bad date '2026-13-14'",
    ),
    "threshold": (
        "payments.yaml",
        'readiness/rotation-sustainability.min_people: "3"',
        'readiness/rotation-sustainability.min_people: "three"',
        "payments.yaml: Group 'payments' metadata.annotations.readiness/rotation-sustainability.min_people: "
        "must be a whole number",
    ),
    "waiver": (
        "readiness-waivers.yaml",
        "  - check: chaos-day\n    team: notifications",
        "  - check: chaos-days\n    team: notifications",
        "readiness-waivers.yaml:6: waivers[0].check: unknown check 'chaos-days'",
    ),
    "campaign": (
        "readiness-campaigns.yaml",
        "    due: 2026-12-14",
        "    due: 2026-10-14",
        "readiness-campaigns.yaml:12: campaign 'sustainable-rotations' due: 2026-10-14 is before the start",
    ),
    "hr_export": (
        "hr.csv",
        "leo.park@example.com,Leo Park,notifications,2026-11-15",
        "leo.park@example.com,Leo Park,notifications,2026-11-31",
        "hr.csv:8: column start_date: bad date '2026-11-31'",
    ),
}
# One audit date per mistake, so each is its own DAG run; and a date that has not come yet.
DATES = {name: f"2026-11-{10 + index:02d}" for index, name in enumerate(MISTAKES)}
FUTURE = "2099-01-04"


def organisation_with(mistake: str, folder: Path) -> dict[str, str]:
    """A copy of the sample catalog and HR export with ``mistake`` made; the environment that audits it."""
    catalog = folder / "catalog"
    shutil.copytree(CATALOG, catalog)
    shutil.copy(HR_EXPORT, catalog / "hr.csv")
    file, before, after, _ = MISTAKES[mistake]
    path = catalog / file
    text = path.read_text()
    assert text.count(before) >= 1, f"the sample organisation changed: {before!r} is not in {file}"
    path.write_text(text.replace(before, after, 1))
    return {"READINESS_CATALOG": str(catalog), "READINESS_HR_CSV": str(catalog / "hr.csv")}


@pytest.fixture(scope="module")
def audited(tmp_path_factory, airflow_metadata):
    tmp = tmp_path_factory.mktemp("bad-configuration")
    home = tmp / "airflow"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "READINESS_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "READINESS_STAGING_DIR": str(tmp / "staging"),
        "AIRFLOW_CONN_READINESS_WAREHOUSE": json.dumps(
            {"conn_type": "generic", "extra": {"url": f"duckdb:///{tmp / 'warehouse.duckdb'}"}}
        ),
    }
    airflow_metadata(home / "airflow.db")  # migrated: env's SQLite metadata database
    scenarios = [f"{name}={DATES[name]}={json.dumps(organisation_with(name, tmp / name))}" for name in MISTAKES]
    sample = {"READINESS_CATALOG": str(CATALOG), "READINESS_HR_CSV": str(HR_EXPORT)}
    scenarios.append(f"future={FUTURE}={json.dumps(sample)}")
    runs = subprocess.run(
        [sys.executable, str(RUNNER), str(REPO / "dags"), *scenarios], env=env, capture_output=True, text=True
    )
    assert runs.returncode == 0, runs.stdout[-3000:] + runs.stderr[-3000:]
    logs = dict(part.split("\n", 1) for part in runs.stdout.split("=== ")[1:])
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT date(dr.logical_date), ti.task_id, ti.state, ti.try_number FROM task_instance ti "
            "JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE ti.dag_id = 'readiness_audit'"
        ).fetchall()
    return logs, {(day, task): (state, tries) for day, task, state, tries in rows}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_bad_configuration_fails_load_registry_once_naming_where_and_what(audited, mistake):
    logs, tasks = audited
    day = DATES[mistake]
    assert tasks[(day, "load_registry")] == ("failed", 1), "retried, or not failed"
    assert MISTAKES[mistake][3] in logs[mistake]
    for task in ("evaluate_checks", "score", "publish"):
        assert tasks[(day, task)][0] == "upstream_failed", f"{task} ran after a bad {mistake}"


def test_an_audit_of_a_date_that_has_not_come_is_refused_before_it_reads_anything(audited):
    logs, tasks = audited
    assert tasks[(FUTURE, "load_registry")] == ("failed", 1)
    assert "is later than now" in logs["future"] and "nothing is collected or published" in logs["future"]
    for task in ("evaluate_checks", "score", "publish"):
        assert tasks[(FUTURE, task)][0] == "upstream_failed"
