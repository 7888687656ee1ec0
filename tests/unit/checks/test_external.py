"""External checks: the latest pushed result per subject, stale ones unknown, silent teams unknown."""

from __future__ import annotations

import pandas as pd

from oncall_readiness.checks import CheckInput
from oncall_readiness.checks.catalogue import EXTERNAL, load_catalogue
from oncall_readiness.checks.external import evaluate

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


def test_the_catalogue_binds_each_external_checks_id():
    catalogue = load_catalogue()
    external = [check for check in catalogue.implemented() if check.kind == EXTERNAL]
    assert [check.id for check in external] == ["security-scan"]
    outcome = external[0].evaluator()(audit(RESULTS))
    assert outcome.results.set_index("team").at["checkout", "status"] == "fail"
