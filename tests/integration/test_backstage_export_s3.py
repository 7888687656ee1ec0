"""The score-card export to an object store (moto's S3 server, through ObjectStoragePath and the staging's
connection): every file at the key the plugin fetches, all.json a list, and a backfill leaving a later export."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from oncall_readiness.backstage_export import BOARD, MANIFEST, scorecard_files, write_export
from oncall_readiness.registry import load_registry
from readiness_sandbox.sample_org import CATALOG
from tests.s3_server import running_s3_server

pytestmark = pytest.mark.integration
BUCKET = "readiness-scorecards"


def test_the_export_lands_in_the_bucket_at_the_plugins_keys(monkeypatch):
    registry = load_registry(CATALOG).to_facts()
    files = scorecard_files(
        generated=pd.Timestamp("2026-11-16T00:00:00Z"),
        registry=registry,
        check_results=pd.DataFrame(
            [("payments", "runbook-freshness", "pass", 10.0, "Fresh.", "")],
            columns=["team", "check_id", "status", "score", "reason", "remediation"],
        ),
        findings=pd.DataFrame(columns=["team", "check_id", "subject", "outcome", "message"]),
        scorecard=pd.DataFrame([("payments", 100.0, "gold")], columns=["team", "score", "level"]),
        rollup=None,
    )
    with running_s3_server(BUCKET) as s3:
        for variable, value in s3.connection_env("readiness_staging").items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("READINESS_STAGING_CONN_ID", "readiness_staging")
        location = f"s3://{BUCKET}/backstage"
        assert write_export(files, "2026-11-16", location) == len(files)
        keys = set(s3.list_keys("backstage/"))
        assert {f"backstage/{name}" for name in files} | {f"backstage/{MANIFEST}"} == keys
        body = s3.client().get_object(Bucket=BUCKET, Key="backstage/default/group/payments.json")["Body"].read()
        assert json.loads(body)["scoreLabel"] == "Gold"
        board = s3.client().get_object(Bucket=BUCKET, Key=f"backstage/{BOARD}")["Body"].read()
        assert isinstance(json.loads(board), list)
        assert write_export(files, "2026-11-09", location) == 0  # a backfill leaves the later export
