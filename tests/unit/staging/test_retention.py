"""Staging older than READINESS_STAGING_RETENTION_DAYS is deleted by readiness_audit's clean_staging,
never the current run's, never a recent backfill's, never anything that is not ours."""

from __future__ import annotations

import datetime as dt
import os
import runpy
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from oncall_readiness.staging import RunStaging
from oncall_readiness.staging_retention import clean_staging, retention_days

NOW = dt.datetime.now(dt.UTC)
DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "readiness_audit.py"


def staged(root: Path, day: dt.date, run_id: str, *, written_days_ago: float) -> RunStaging:
    """A run's staging of ``day`` whose files were last written ``written_days_ago`` days ago."""
    run = RunStaging(day, run_id, root=root)
    run.write("checks", {"check_results": pd.DataFrame({"team": [run_id]})})
    stamp = (NOW - dt.timedelta(days=written_days_ago)).timestamp()
    for folder, _, names in os.walk(run.folder):
        for name in names:
            os.utime(os.path.join(folder, name), (stamp, stamp))
    return run


def days_ago(days: int) -> dt.date:
    return (NOW - dt.timedelta(days=days)).date()


def test_old_runs_go_and_recent_or_current_ones_stay(tmp_path):
    root = tmp_path / "staging"
    old = staged(root, days_ago(10), "scheduled__old", written_days_ago=10)
    recent = staged(root, days_ago(2), "scheduled__recent", written_days_ago=2)
    backfill = staged(root, days_ago(30), "backfill__yesterday", written_days_ago=1)  # an old date, run lately
    current = staged(root, days_ago(9), "backfill__running", written_days_ago=9)  # this run: never deleted
    (root / "not-a-date").mkdir()  # the root may be shared: only date folders are ours

    assert clean_staging(keep_days=7, now=NOW, current=current, root=root) == {"deleted_runs": 1, "kept_old_runs": 2}
    assert not old.folder.exists() and not old.folder.parent.exists()  # its empty date folder went too
    for kept in (recent, backfill, current):
        assert kept.read("checks")["check_results"]["team"].tolist() == [kept.run_id]
    assert (root / "not-a-date").is_dir()
    # Idempotent: a retry, or the next run, finds nothing more to delete.
    assert clean_staging(keep_days=7, now=NOW, current=current, root=root) == {"deleted_runs": 0, "kept_old_runs": 2}


def test_a_missing_root_is_nothing_to_clean(tmp_path):
    assert clean_staging(keep_days=7, now=NOW, root=tmp_path / "never-written") == {
        "deleted_runs": 0,
        "kept_old_runs": 0,
    }


def test_the_retention_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("READINESS_STAGING_RETENTION_DAYS", raising=False)
    assert retention_days() == 7
    monkeypatch.setenv("READINESS_STAGING_RETENTION_DAYS", "3")
    assert retention_days() == 3
    for bad in ("0", "-1", "a week"):
        monkeypatch.setenv("READINESS_STAGING_RETENTION_DAYS", bad)
        with pytest.raises(ValueError, match="READINESS_STAGING_RETENTION_DAYS"):
            retention_days()


def test_the_dags_clean_staging_task_keeps_its_own_run(tmp_path, monkeypatch):
    import pendulum

    root = tmp_path / "staging"
    monkeypatch.setenv("READINESS_STAGING_DIR", str(root))
    monkeypatch.setenv("READINESS_STAGING_RETENTION_DAYS", "3")
    old = staged(root, days_ago(5), "scheduled__old", written_days_ago=5)
    # A backfill of that old date, finishing now: its own staging looks old by date and must stay.
    this_run = SimpleNamespace(run_id="backfill__old-date", run_after=pendulum.now("UTC"))
    mine = staged(root, days_ago(5), this_run.run_id, written_days_ago=5)
    dag = runpy.run_path(str(DAG_FILE))["readiness_audit"]()
    task = dag.get_task("clean_staging").python_callable
    interval_end = pendulum.instance(dt.datetime.combine(days_ago(5), dt.time(), dt.UTC))
    assert task(data_interval_end=interval_end, dag_run=this_run) == {"deleted_runs": 1, "kept_old_runs": 1}
    assert not old.folder.exists() and mine.status("checks")["ok"]
