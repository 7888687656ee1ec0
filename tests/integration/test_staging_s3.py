"""Staging on S3 (moto's server, through Airflow's ObjectStoragePath and the readiness_staging
connection): a step is committed by its status, a retry replaces it whole, a writer killed
mid-step leaves nothing a reader accepts, old staging is cleaned, and an audit step round-trips."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pandas as pd
import pytest

from oncall_readiness import audit
from oncall_readiness.source_catalogue import REGISTRY
from oncall_readiness.staging import NOT_RUN, STATUS_FILE, RunStaging, step_at
from oncall_readiness.staging_retention import clean_staging
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG
from tests.s3_server import running_s3_server
from tests.staging_faults import killed_while_writing

pytestmark = pytest.mark.integration
BUCKET = "readiness-staging"
DAY = dt.date(2026, 11, 16)


@pytest.fixture(scope="module")
def s3():
    with running_s3_server(BUCKET) as server:
        yield server


@pytest.fixture
def prefix(s3, monkeypatch) -> str:
    """A fresh prefix of the bucket as READINESS_STAGING_DIR, reached through readiness_staging."""
    name = f"staging-{uuid.uuid4().hex[:8]}"
    for variable, value in s3.connection_env("readiness_staging").items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("READINESS_STAGING_DIR", f"s3://{BUCKET}/{name}")
    return name


def step_keys(s3, staging: RunStaging, step: str) -> set[str]:
    """The step's keys, an attempt shown as <attempt>."""
    base = f"{staging.step_dir(step).key.rstrip('/')}/"
    return {
        "/".join("<attempt>" if i == 0 and len(parts) == 2 else part for i, part in enumerate(parts))
        for parts in (key.removeprefix(base).split("/") for key in s3.list_keys(base))
    }


def teams(*names: str) -> pd.DataFrame:
    return pd.DataFrame({"team": list(names)})


def test_a_step_is_written_read_replaced_and_failed_in_the_bucket(s3, prefix):
    run = RunStaging(DAY, "scheduled__2026-11-16T00:00:00+00:00")
    location = run.write("checks", {"check_results": teams("a"), "findings": teams("old")})
    assert location.startswith(f"s3://readiness_staging@{BUCKET}/{prefix}/2026-11-16/")
    assert step_at(location).read()["check_results"]["team"].tolist() == ["a"]  # as the next task reads it
    assert step_keys(s3, run, "checks") == {
        STATUS_FILE,
        "<attempt>/check_results.parquet",
        "<attempt>/findings.parquet",
    }

    run.write("checks", {"check_results": teams("retry")})  # a retry replaces the step whole
    assert run.read("checks").keys() == {"check_results"}
    assert run.read("checks")["check_results"]["team"].tolist() == ["retry"]
    assert step_keys(s3, run, "checks") == {STATUS_FILE, "<attempt>/check_results.parquet"}

    run.mark_failed("checks", "evaluation failed")
    assert run.status("checks") == {"ok": False, "reason": "evaluation failed"}
    assert step_keys(s3, run, "checks") == {STATUS_FILE}
    assert RunStaging(DAY, "manual__other").status("checks") == {"ok": False, "reason": NOT_RUN}  # another run


def test_a_writer_killed_mid_step_leaves_nothing_a_reader_accepts(s3, prefix):
    run = RunStaging(DAY, "scheduled__killed")
    killed_while_writing(run)
    assert step_keys(s3, run, "checks") == {"<attempt>/check_results.parquet"}  # the half step is in the bucket...
    assert run.status("checks") == {"ok": False, "reason": NOT_RUN}  # ...and no reader accepts it

    run.write("checks", {"check_results": teams("retry")})  # the retry: whole, and the orphan is gone
    assert run.read("checks")["check_results"]["team"].tolist() == ["retry"]
    assert step_keys(s3, run, "checks") == {STATUS_FILE, "<attempt>/check_results.parquet"}


def test_old_staging_is_cleaned_from_the_bucket(s3, prefix):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)  # S3 keeps its own write times: look from later
    long_ago = later.date() - dt.timedelta(days=40)
    old, current = RunStaging(long_ago, "scheduled__old"), RunStaging(long_ago, "backfill__now")
    recent = RunStaging(later.date() - dt.timedelta(days=2), "scheduled__recent")
    for run in (old, current, recent):
        run.write("checks", {"check_results": teams(run.run_id)})
    other_data = f"{prefix}/exports/report.csv"  # the bucket may hold more than staging
    s3.client().put_object(Bucket=BUCKET, Key=other_data, Body=b"x")

    assert clean_staging(keep_days=7, now=later, current=current) == {"deleted_runs": 1, "kept_old_runs": 1}
    assert old.status("checks") == {"ok": False, "reason": NOT_RUN} and not s3.list_keys(old.folder.key)
    assert current.read("checks") and recent.read("checks")
    assert other_data in s3.list_keys(prefix)  # not ours: never touched
    assert clean_staging(keep_days=7, now=later, current=current) == {"deleted_runs": 0, "kept_old_runs": 1}


def test_the_registry_step_of_the_sample_organisation_round_trips(s3, prefix, monkeypatch):
    monkeypatch.setenv("READINESS_CATALOG", str(SAMPLE_CATALOG))
    monkeypatch.delenv("READINESS_HR_CSV", raising=False)
    run = audit.AuditRun(audit.audit_instant("2026-11-16T00:00:00+00:00"), "scheduled__2026-11-16T00:00:00+00:00")
    location = audit.stage_registry(run)
    staged = step_at(location).read()
    assert "payments" in set(staged["registry_teams"]["team"])
    status_key = f"{run.staging.step_dir(REGISTRY).key}/{STATUS_FILE}"
    status = json.loads(s3.client().get_object(Bucket=BUCKET, Key=status_key)["Body"].read())
    assert set(status["files"]) == set(staged) and status["ok"]
    assert run.staging.read(audit.WAIVERS)["waivers"] is not None and run.staging.status(audit.CAMPAIGNS)["ok"]
