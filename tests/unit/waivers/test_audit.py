"""Waivers in the audit's steps: staged with the registry, and a bad one stops the run at load_registry."""

from __future__ import annotations

import pytest

from oncall_readiness import audit
from oncall_readiness.errors import WaiverError
from oncall_readiness.waivers import WAIVERS_ENV_VAR
from readiness_sandbox.sample_org import CATALOG as SAMPLE_CATALOG

RUN = audit.AuditRun(audit.audit_instant("2026-11-16T00:00:00+00:00"), "scheduled__2026-11-16T00:00:00+00:00")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("READINESS_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("READINESS_CATALOG", str(SAMPLE_CATALOG))
    monkeypatch.delenv("READINESS_HR_CSV", raising=False)
    monkeypatch.delenv(WAIVERS_ENV_VAR, raising=False)
    return tmp_path


def test_the_waivers_beside_the_catalog_are_staged_as_of_the_audit_instant(workspace):
    audit.stage_registry(RUN)
    staged = RUN.staging.read(audit.WAIVERS)["waivers"].set_index("team")
    assert staged["active"].to_dict() == {"catalog": False, "notifications": True}
    assert str(staged.at["notifications", "expires"]) == "2026-12-15"


def test_a_bad_waiver_stops_the_run_before_anything_is_evaluated(workspace, monkeypatch):
    bad = workspace / "waivers.yaml"
    bad.write_text(
        "waivers:\n  - check: chaos-day\n    team: notifications\n    reason: Later.\n"
        "    approved: 2026-10-01\n    expires: 2026-12-15\n"
    )
    monkeypatch.setenv(WAIVERS_ENV_VAR, str(bad))
    with pytest.raises(WaiverError, match=r"waivers.yaml:2: waivers\[0\]\.approver: missing"):
        audit.stage_registry(RUN)
    with pytest.raises(audit.RegistryNotValidated, match="did not load"):
        audit.stage_checks(RUN)
