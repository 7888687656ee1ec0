"""The readiness_weekly_email DAG: its tasks, and Mondays at 08:00 in the configured timezone."""

from __future__ import annotations

import runpy
from pathlib import Path

import pendulum
import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "readiness_weekly_email.py"


def load_dag(monkeypatch, timezone: str | None = None):
    """Parse the DAG file as the scheduler would, with READINESS_EMAIL_TIMEZONE set or not."""
    if timezone is None:
        monkeypatch.delenv("READINESS_EMAIL_TIMEZONE", raising=False)
    else:
        monkeypatch.setenv("READINESS_EMAIL_TIMEZONE", timezone)
    return runpy.run_path(str(DAG_FILE))["readiness_weekly_email"]()


def next_run(dag, after: str) -> pendulum.DateTime:
    """When the scheduler would next run the DAG after ``after`` (UTC)."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(earliest=pendulum.parse(after), latest=None, catchup=True)
    info = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction
    )
    return info.run_after


def test_reads_builds_and_sends_in_that_order(monkeypatch):
    dag = load_dag(monkeypatch)
    assert dag.dag_id == DAG_FILE.stem
    assert set(dag.task_ids) == {"find_week", "build_emails", "send_emails"}
    assert dag.get_task("find_week").downstream_task_ids == {"build_emails"}
    assert dag.get_task("build_emails").downstream_task_ids == {"send_emails"}
    assert dag.catchup is False and dag.max_active_runs == 1
    assert "digest_recipients" in dag.params
    for task in dag.tasks:
        assert task.retries >= 1 and task.owner == "oncall-readiness"


def test_runs_mondays_at_eight_in_london_by_default_through_summer_time(monkeypatch):
    dag = load_dag(monkeypatch)
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("0 8 * * 1", "Europe/London")
    assert next_run(dag, "2026-11-10T00:00:00Z") == pendulum.datetime(2026, 11, 16, 8, tz="UTC")  # GMT
    assert next_run(dag, "2026-06-30T00:00:00Z") == pendulum.datetime(2026, 7, 6, 7, tz="UTC")  # BST


@pytest.mark.parametrize(
    ("timezone", "expected_utc"),
    [("America/New_York", (2026, 11, 16, 13)), ("Asia/Kolkata", (2026, 11, 16, 2, 30))],
)
def test_the_timezone_comes_from_the_environment(monkeypatch, timezone, expected_utc):
    dag = load_dag(monkeypatch, timezone)
    assert str(dag.timetable.timezone) == timezone
    run_after = next_run(dag, "2026-11-10T00:00:00Z")
    assert run_after == pendulum.datetime(*expected_utc, tz="UTC")
    assert run_after.in_timezone(timezone).format("dddd HH:mm") == "Monday 08:00"
