"""External checks: the latest pushed result per subject, stale ones unknown, silent teams unknown."""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.checks import CheckInput
from oncall_readiness.checks.catalogue import EXTERNAL, load_catalogue
from oncall_readiness.checks.external import evaluate
from oncall_readiness.errors import CatalogueError
from readiness_sandbox.sample_org import CATALOG

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
TEAMS = pd.DataFrame({"team": ["payments", "checkout", "search", "catalog"]})


def pushed(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["check_id", "team", "subject", "status", "reason", "observed_at"])
    return frame.assign(observed_at=pd.to_datetime(frame["observed_at"], utc=True))


def audit(results: pd.DataFrame, max_age_days: int = 30) -> CheckInput:
    thresholds = pd.DataFrame({"team": TEAMS["team"], "max_age_days": max_age_days}).set_index("team")
    return CheckInput(INSTANT, TEAMS, {"external_results": results}, thresholds)


RESULTS = pushed(
    [
        ("security-scan", "payments", "service:payments-api", "pass", "No known vulnerability.", "2026-11-15T10:00Z"),
        ("security-scan", "checkout", "service:checkout-api", "pass", "Clean.", "2026-11-15T10:00Z"),
        (
            "security-scan",
            "checkout",
            "service:checkout-web",
            "fail",
            "CVE-2026-1234 (critical) in openssl.",
            "2026-11-15T11:00Z",
        ),
        ("security-scan", "search", None, "warn", "2 medium findings past due.", "2026-09-01T00:00Z"),
        ("load-test", "catalog", None, "fail", "Another check's result.", "2026-11-15T00:00Z"),
    ]
)


def test_the_worst_pushed_subject_decides_and_its_reason_is_quoted():
    outcome = evaluate(audit(RESULTS), check_id="security-scan")
    status = outcome.results.set_index("team")["status"].to_dict()
    reason = outcome.results.set_index("team")["reason"].to_dict()
    assert status == {"payments": "pass", "checkout": "fail", "search": "unknown", "catalog": "unknown"}
    assert reason["checkout"] == "CVE-2026-1234 (critical) in openssl (observed 2026-11-15 11:00 UTC)."
    assert reason["payments"] == "Every result pushed for the team passes."


def test_a_result_older_than_max_age_days_is_unknown_and_says_so():
    outcome = evaluate(audit(RESULTS), check_id="security-scan")
    search = outcome.findings[outcome.findings["team"] == "search"].iloc[0]
    assert (search["subject"], search["outcome"]) == ("team:search", "unknown")
    assert search["message"].startswith("The last result, observed 2026-09-01 00:00 UTC, is older than 30 days")
    fresh = evaluate(audit(RESULTS, max_age_days=90), check_id="security-scan").results.set_index("team")
    assert fresh.at["search", "status"] == "warn"


def test_a_team_without_any_result_is_unknown_never_a_pass():
    outcome = evaluate(audit(RESULTS), check_id="security-scan")
    catalog = outcome.results.set_index("team").loc["catalog"]
    assert catalog["status"] == "unknown"  # its load-test result is another check's
    assert "No result of security-scan was pushed for this team up to 2026-11-16 00:00 UTC" in catalog["reason"]
    empty = evaluate(audit(RESULTS.iloc[0:0]), check_id="security-scan")
    assert set(empty.results["status"]) == {"unknown"} and empty.findings.empty


def test_the_organisation_declares_its_external_checks_and_the_catalogue_binds_each_id(monkeypatch):
    monkeypatch.setenv("READINESS_CATALOG", str(CATALOG))  # the sample declares security-scan beside its catalog
    catalogue = load_catalogue()
    external = [check for check in catalogue.implemented() if check.kind == EXTERNAL]
    assert [check.id for check in external] == ["security-scan"]
    assert external[0].pushers is not None and external[0].pushers.refusal("security-scanner", "checkout") is None
    outcome = external[0].evaluator()(audit(RESULTS))
    assert outcome.results.set_index("team").at["checkout", "status"] == "fail"


def test_an_organisation_that_declares_no_external_check_gets_none(monkeypatch, tmp_path):
    """security-scan is the sample organisation's, not a default: nobody else sees it unknown forever."""
    monkeypatch.setenv("READINESS_CATALOG", str(tmp_path))
    assert [check.id for check in load_catalogue().implemented() if check.kind == EXTERNAL] == []
    monkeypatch.delenv("READINESS_CATALOG")
    assert [check.id for check in load_catalogue().implemented() if check.kind == EXTERNAL] == []


def test_a_bad_declaration_names_the_file_the_entry_and_the_field(monkeypatch, tmp_path):
    (tmp_path / "readiness-checks.yaml").write_text("external_checks:\n  - id: load-test\n    title: Load test\n")
    monkeypatch.setenv("READINESS_CATALOG", str(tmp_path))
    with pytest.raises(CatalogueError, match=r"readiness-checks.yaml:2: external_checks\[0\].weight: missing"):
        load_catalogue()
