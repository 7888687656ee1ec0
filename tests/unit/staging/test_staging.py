"""Staging on a local disk, as a plain folder and as a ``file://`` URL: a step is committed by its
status, a retry replaces it whole, and a writer killed mid-step leaves nothing a reader accepts.
(The same against S3: tests/integration/test_staging_s3.py.)"""

from __future__ import annotations

import datetime as dt
import json
import os

import pandas as pd
import pytest

from oncall_readiness.staging import NOT_RUN, STATUS_FILE, RunStaging, staging_conn_id, staging_path, step_at
from tests.staging_faults import killed_while_writing

DAY = dt.date(2026, 11, 16)
RUN_ID = "scheduled__2026-11-16T00:00:00+00:00"


@pytest.fixture(params=["folder", "file-url"])
def staging(request, tmp_path, monkeypatch) -> RunStaging:
    root = tmp_path / "staging"
    monkeypatch.setenv("READINESS_STAGING_DIR", str(root) if request.param == "folder" else root.as_uri())
    return RunStaging(DAY, RUN_ID)


def teams(*names: str) -> pd.DataFrame:
    return pd.DataFrame({"team": list(names)})


def files_under(staging: RunStaging) -> set[str]:
    """Every file of the run's staging, relative to the run folder (an attempt shown as <attempt>)."""
    base = str(staging.folder).removeprefix("file://")
    found = set()
    for folder, _, names in os.walk(base):
        for name in names:
            parts = os.path.relpath(os.path.join(folder, name), base).split(os.sep)
            found.add("/".join(part if i != 1 or len(parts) == 2 else "<attempt>" for i, part in enumerate(parts)))
    return found


def test_a_written_step_reads_back_and_its_status_names_its_files(staging):
    location = staging.write("checks", {"check_results": teams("a", "b"), "findings": pd.DataFrame({"x": [1]})})
    assert staging.read("checks")["check_results"]["team"].tolist() == ["a", "b"]
    assert step_at(location).read()["findings"]["x"].tolist() == [1]  # what the next task gets from the XCom
    status = staging.status("checks")
    assert status["ok"] and status["tables"] == ["check_results", "findings"]
    assert set(status["files"]) == {"check_results", "findings"}
    assert files_under(staging) == {
        f"checks/{STATUS_FILE}",
        "checks/<attempt>/check_results.parquet",
        "checks/<attempt>/findings.parquet",
    }


def test_a_retry_replaces_the_step_whole_and_leaves_one_attempt(staging):
    staging.write("checks", {"check_results": teams("first"), "findings": teams("old finding")})
    staging.write("checks", {"check_results": teams("retry")})
    assert staging.read("checks").keys() == {"check_results"}  # not a mix of both attempts
    assert staging.read("checks")["check_results"]["team"].tolist() == ["retry"]
    assert files_under(staging) == {f"checks/{STATUS_FILE}", "checks/<attempt>/check_results.parquet"}


def test_a_failed_step_is_read_as_unavailable_with_its_reason(staging):
    staging.write("pagerduty", {"pagerduty_users": teams("a")})
    staging.mark_failed("pagerduty", "PagerDuty timed out")
    assert staging.status("pagerduty") == {"ok": False, "reason": "PagerDuty timed out"}
    assert staging.status("grafana") == {"ok": False, "reason": NOT_RUN}
    with pytest.raises(FileNotFoundError, match="PagerDuty timed out"):
        staging.read("pagerduty")
    assert files_under(staging) == {f"pagerduty/{STATUS_FILE}"}  # the superseded tables are gone


def test_an_error_mid_write_keeps_the_previous_step_and_leaves_nothing(staging, monkeypatch):
    staging.write("checks", {"check_results": teams("a")})
    original = pd.DataFrame.to_parquet

    def fail_on_the_second_table(self, *args, **kwargs):
        if self.columns.tolist() == ["finding"]:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_on_the_second_table)
    with pytest.raises(OSError, match="disk full"):
        staging.write("checks", {"check_results": teams("b"), "findings": pd.DataFrame({"finding": ["x"]})})
    assert staging.read("checks")["check_results"]["team"].tolist() == ["a"]
    assert files_under(staging) == {f"checks/{STATUS_FILE}", "checks/<attempt>/check_results.parquet"}


@pytest.mark.parametrize("staging", ["folder"], indirect=True)  # a plain folder: the writer imports no Airflow
def test_a_writer_killed_mid_step_leaves_nothing_a_reader_accepts(staging):
    killed_while_writing(staging)  # a first attempt, killed
    assert "checks/<attempt>/check_results.parquet" in files_under(staging)  # its half step is on disk...
    assert staging.status("checks") == {"ok": False, "reason": NOT_RUN}  # ...and not accepted

    staging.write("checks", {"check_results": teams("retry")})
    killed_while_writing(staging)  # a later attempt, killed: the committed step stays whole
    assert staging.read("checks")["check_results"]["team"].tolist() == ["retry"]

    staging.write("checks", {"check_results": teams("last")})  # the next retry clears the orphans
    assert staging.read("checks")["check_results"]["team"].tolist() == ["last"]
    assert files_under(staging) == {f"checks/{STATUS_FILE}", "checks/<attempt>/check_results.parquet"}


def test_a_status_from_before_attempts_still_reads(staging):
    """Staging written by the previous release (tables beside the status) stays readable within its run."""
    step = str(staging.step_dir("checks")).removeprefix("file://")
    os.makedirs(step)
    teams("legacy").to_parquet(os.path.join(step, "check_results.parquet"), index=False)
    with open(os.path.join(step, STATUS_FILE), "w") as status:
        json.dump({"ok": True, "tables": ["check_results"]}, status)
    assert staging.read("checks")["check_results"]["team"].tolist() == ["legacy"]


def test_two_runs_of_a_date_never_share_a_folder(staging):
    backfill = RunStaging(DAY, "backfill__2026-11-16T00:00:00+00:00")
    staging.write("checks", {"check_results": teams("scheduled")})
    assert backfill.status("checks") == {"ok": False, "reason": NOT_RUN}
    assert backfill.folder != staging.folder and backfill.folder.parent == staging.folder.parent


def test_object_store_urls_use_the_staging_connection(monkeypatch):
    monkeypatch.delenv("READINESS_STAGING_CONN_ID", raising=False)
    assert staging_conn_id("s3") == "aws_default"
    assert staging_conn_id("gs") == "google_cloud_default"
    monkeypatch.setenv("READINESS_STAGING_CONN_ID", "readiness_staging")
    assert staging_conn_id("s3") == "readiness_staging"
    # A connection of the environment with credentials: resolving it reaches no cloud metadata service.
    monkeypatch.setenv("AIRFLOW_CONN_READINESS_STAGING", '{"conn_type": "aws", "login": "k", "password": "s"}')
    path = staging_path("s3://readiness-staging/staging")
    assert (path.protocol, path.bucket, path.key, path.conn_id) == (
        "s3",
        "readiness-staging",
        "staging",
        "readiness_staging",
    )
