"""The readiness_weekly_email DAG: its tasks, Mondays at 08:00 in the configured timezone, the week a run covers."""

from __future__ import annotations

import datetime as dt
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

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


# The tasks' own code, called as the worker calls it -----------------------------------------------


def publish_audits(url: str, dates: list[str]) -> None:
    """A scorecard of one team for each audit date (enough to tell which week a run reports)."""
    import pandas as pd

    from oncall_readiness.warehouse import RESULT_TABLES, Warehouse

    def empty(table: str) -> pd.DataFrame:
        return pd.DataFrame(columns=list(RESULT_TABLES[table]))

    warehouse = Warehouse(url)
    try:
        for audit_date in dates:
            card = empty("scorecard")
            card.loc[0] = {column: None for column in card.columns} | {"team": "payments", "score": 90.0}
            card["level"] = "gold"
            warehouse.publish(
                dt.date.fromisoformat(audit_date),
                check_results=empty("check_results"),
                findings=empty("findings"),
                scorecard=card,
                facts={},
            )
    finally:
        warehouse.dispose()


@pytest.fixture
def workspace(monkeypatch, tmp_path):
    """A DuckDB warehouse behind readiness_warehouse, and staging in tmp_path."""
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    connection = json.dumps({"conn_type": "generic", "extra": {"url": url}})
    monkeypatch.setenv("AIRFLOW_CONN_READINESS_WAREHOUSE", connection)
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    return SimpleNamespace(url=url, staging=tmp_path / "staging")


def dag_run(run_id: str, run_after: str) -> SimpleNamespace:
    return SimpleNamespace(run_id=run_id, run_after=pendulum.parse(run_after))


def call(dag, task_id: str, *args, **context):
    """The task's function with the context arguments it declares, as the Task SDK passes them."""
    return dag.get_task(task_id).python_callable(*args, **context)


def test_a_manual_run_after_a_later_daily_audit_reports_the_week_already_sent(monkeypatch, workspace):
    dag = load_dag(monkeypatch)
    publish_audits(workspace.url, ["2026-11-09", "2026-11-16", "2026-11-17"])

    scheduled = call(
        dag,
        "find_week",
        data_interval_end=pendulum.datetime(2026, 11, 16, 8, tz="UTC"),
        dag_run=dag_run("scheduled__2026-11-16T08:00:00+00:00", "2026-11-16T08:00:00Z"),
    )
    manual = call(dag, "find_week", data_interval_end=None, dag_run=dag_run("manual__tuesday", "2026-11-17T10:30:00Z"))
    with_logical_date = call(
        dag,
        "find_week",
        data_interval_end=pendulum.datetime(2026, 11, 17, 12, tz="UTC"),
        dag_run=dag_run("manual__2026-11-17T12:00:00+00:00", "2026-11-17T12:00:00Z"),
    )

    assert scheduled == manual == with_logical_date == "2026-11-16"  # not 17 Nov: that would resend every email


def test_each_run_builds_its_emails_in_its_own_staging_folder(monkeypatch, workspace):
    from oncall_readiness.staging import RunStaging

    dag = load_dag(monkeypatch)
    publish_audits(workspace.url, ["2026-11-16"])
    params = {"digest_recipients": "cto@example.com"}
    first_run, second_run = (dag_run(run_id, "2026-11-17T10:30:00Z") for run_id in ("manual__one", "manual__two"))

    first = Path(call(dag, "build_emails", "2026-11-16", params=params, dag_run=first_run))
    (first / "team-left-over.eml").write_text("written by nothing this run knows")
    second = Path(call(dag, "build_emails", "2026-11-16", params=params, dag_run=second_run))
    retried = Path(call(dag, "build_emails", "2026-11-16", params=params, dag_run=first_run))

    one, two = (RunStaging(dt.date(2026, 11, 16), run_id) for run_id in ("manual__one", "manual__two"))
    assert first == retried == one.step_dir("emails")
    assert second == two.step_dir("emails") != first
    assert first.is_relative_to(workspace.staging) and second.is_relative_to(workspace.staging)
    assert sorted(one.read_files("emails")) == ["digest.eml"]  # the retry replaced the step; strays are not read
    assert sorted(two.read_files("emails")) == ["digest.eml"]
