"""Faults after collection: the warehouse down, a publish killed mid-transaction, staging unavailable.

The scorecard already published must survive every one of them whole: never half a date, never
nothing where there was something. (The SMTP server refusing midway is
tests/integration/test_weekly_email.py::test_a_retry_after_a_failure_midway_sends_only_the_rest;
a publish that fails inside its transaction is tests/integration/test_warehouse.py::
test_a_failed_publish_leaves_the_previous_rows_intact.)
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from oncall_readiness import audit
from oncall_readiness.warehouse import Warehouse
from readiness_sandbox.sample_org import CATALOG

DAY = dt.date(2026, 11, 16)

# The child: publish the new frames, but stop for good inside the transaction, after the date's
# rows were deleted and the first table written, and say so; the parent kills it there.
KILLED_PUBLISH = """
import sys, time
from pathlib import Path
import pandas as pd
from oncall_readiness import warehouse as module

url, frames, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
real_insert = module.insert

def insert_then_hang(conn, table, frame, audit_date):
    written = real_insert(conn, table, frame, audit_date)
    ready.write_text(table.name)
    time.sleep(600)
    return written

module.insert = insert_then_hang
read = lambda name: pd.read_parquet(frames / f"{name}.parquet")
module.Warehouse(url).publish(
    pd.Timestamp(sys.argv[4]).date(),
    check_results=read("check_results"), findings=read("findings"), scorecard=read("scorecard"), facts={},
)
"""


def results(status: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": ["a", "b"],
            "check_id": ["rotation-sustainability"] * 2,
            "status": [status, "unknown"],
            "score": pd.array([10.0 if status == "pass" else 0.0, None], dtype="Float64"),
            "reason": [f"It is {status}.", "pagerduty data is unavailable: down."],
            "remediation": ["No action needed.", "Fix it."],
        }
    )


def scorecard(score: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team": ["a", "b"],
            "score": pd.array([score, None], dtype="Float64"),
            "level": ["gold", "none"],
            "passed": [1, 0],
            "warned": [0, 0],
            "failed": [0, 0],
            "unknown": [0, 1],
            "fully_assessed": [True, False],
            "score_change_7d": pd.array([None, None], dtype="Float64"),
            "waived": [0, 0],
        }
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound for a moment by this process, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


FINDINGS = pd.DataFrame(columns=["team", "check_id", "subject", "outcome", "message"])


def published(warehouse: Warehouse) -> dict[str, list]:
    return {
        "check_results": warehouse.query(
            "SELECT team, status FROM readiness.check_results ORDER BY team"
        ).values.tolist(),
        "scorecard": warehouse.query("SELECT team, score FROM readiness.scorecard ORDER BY team")
        .astype(object)
        .where(lambda frame: frame.notna(), None)
        .values.tolist(),
    }


@pytest.mark.integration
def test_a_publish_killed_inside_its_transaction_leaves_the_previous_rows_whole(postgres_url, tmp_path):
    warehouse = Warehouse(postgres_url)
    try:
        warehouse.publish(DAY, check_results=results("pass"), findings=FINDINGS, scorecard=scorecard(100.0), facts={})
        before = published(warehouse)
        frames = tmp_path / "frames"
        frames.mkdir()
        results("fail").to_parquet(frames / "check_results.parquet")
        FINDINGS.to_parquet(frames / "findings.parquet")
        scorecard(0.0).to_parquet(frames / "scorecard.parquet")
        ready = tmp_path / "inside-the-transaction"
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_PUBLISH, postgres_url, str(frames), str(ready), DAY.isoformat()],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 120
            while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ready.exists(), f"the publish never reached its transaction: {child.stderr.read().decode()[-2000:]}"
        finally:
            os.kill(child.pid, signal.SIGKILL)  # only the child this test started
            child.wait()
            child.stderr.close()

        assert published(warehouse) == before  # the date's rows as they were: none deleted, none half-written
        # The killed transaction holds nothing: the next publish (the task's retry) replaces the date whole.
        warehouse.publish(DAY, check_results=results("fail"), findings=FINDINGS, scorecard=scorecard(0.0), facts={})
        assert published(warehouse)["check_results"] == [["a", "fail"], ["b", "unknown"]]
    finally:
        with warehouse.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS readiness CASCADE"))
        warehouse.dispose()


def test_a_warehouse_that_is_down_fails_the_publish_and_the_previous_scorecard_stays(tmp_path):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    warehouse = Warehouse(url)
    warehouse.publish(DAY, check_results=results("pass"), findings=FINDINGS, scorecard=scorecard(100.0), facts={})
    before = published(warehouse)
    warehouse.dispose()
    # Nothing listens on the port: the database server is down at publish time.
    down = Warehouse(f"postgresql+psycopg2://readiness@127.0.0.1:{closed_port()}/readiness?connect_timeout=2")
    with pytest.raises(sa.exc.OperationalError):
        down.publish(DAY, check_results=results("fail"), findings=FINDINGS, scorecard=scorecard(0.0), facts={})
    down.dispose()
    warehouse = Warehouse(url)
    try:
        assert published(warehouse) == before
    finally:
        warehouse.dispose()


def test_staging_that_cannot_be_written_fails_the_first_task_naming_it_and_nothing_is_published(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the staging folder should be")  # unwritable even for root
    monkeypatch.setenv("READINESS_STAGING_DIR", str(blocked / "staging"))
    monkeypatch.setenv("READINESS_CATALOG", str(CATALOG))
    monkeypatch.delenv("READINESS_HR_CSV", raising=False)
    run = audit.AuditRun(audit.audit_instant(f"{DAY}T00:00:00+00:00"), "manual__unwritable-staging")
    with pytest.raises(OSError) as error:
        audit.stage_registry(run)
    assert str(blocked) in str(error.value)  # the message names where it could not write
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    with pytest.raises(OSError):  # a retry, or the later steps, meet the same wall: nothing to publish
        audit.publish(run, url)
    assert not (tmp_path / "warehouse.duckdb").exists()
