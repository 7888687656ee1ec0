"""What an active waiver does to one check's results and findings, and what it never does."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from oncall_readiness.checks.waivers import waive
from oncall_readiness.waivers import WAIVER_COLUMNS


def waivers(*rows) -> pd.DataFrame:
    """(team, subject, active) rows of waivers of check `c`, expiring 2026-12-15, approved by Dana."""
    return pd.DataFrame(
        [
            {
                "team": team,
                "check_id": "c",
                "subject": subject,
                "reason": "Agreed exception.",
                "approver": "Dana",
                "approved": dt.date(2026, 10, 1),
                "expires": dt.date(2026, 12, 15),
                "active": active,
                "source": "readiness-waivers.yaml:2",
            }
            for team, subject, active in rows
        ],
        columns=WAIVER_COLUMNS,
    )


RESULTS = pd.DataFrame(
    {
        "team": ["a", "b", "c", "d"],
        "status": ["fail", "warn", "pass", "unknown"],
        "reason": ["svc-1 has no dashboard (and 1 more finding).", "svc-3 lacks logs.", "All good.", "Grafana down."],
    }
)
FINDINGS = pd.DataFrame(
    {
        "team": ["a", "a", "a", "b", "c"],
        "subject": ["service:svc-1", "service:svc-2", "service:svc-0", "service:svc-3", "service:svc-4"],
        "outcome": ["fail", "warn", "pass", "warn", "pass"],
        "message": ["svc-1 has no dashboard", "svc-2 lacks logs", "svc-0 is fine", "svc-3 lacks logs", "svc-4 is fine"],
    }
)


def by_team(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("team")


def test_a_whole_check_waiver_turns_fail_and_warn_into_waived_with_the_reason():
    results, findings = waive("c", RESULTS, FINDINGS, waivers(("a", None, True), ("b", None, True)))
    out = by_team(results)
    assert out.at["a", "status"] == "waived" and out.at["b", "status"] == "waived"
    assert out.at["a", "reason"] == "Waived until 2026-12-15 by Dana: Agreed exception."
    mine = findings[findings["team"] == "a"].set_index("subject")
    assert list(mine["outcome"]) == ["waived", "waived", "pass"]
    assert (
        mine.at["service:svc-1", "message"]
        == "svc-1 has no dashboard (Waived until 2026-12-15 by Dana: Agreed exception)"
    )
    assert RESULTS.at[0, "status"] == "fail"  # the inputs are not changed


def test_a_pass_stays_a_pass_and_an_unknown_stays_unknown():
    results, _ = waive("c", RESULTS, FINDINGS, waivers(("c", None, True), ("d", None, True)))
    assert list(by_team(results).loc[["c", "d"], "status"]) == ["pass", "unknown"]


def test_an_inactive_waiver_or_another_checks_waiver_does_nothing():
    other = waivers(("a", None, True)).assign(check_id="other")
    for table in (waivers(("a", None, False)), other):
        results, findings = waive("c", RESULTS, FINDINGS, table)
        assert results.equals(RESULTS) and findings.equals(FINDINGS)


def test_a_subject_waiver_waives_that_finding_and_the_team_status_follows_the_rest():
    results, findings = waive("c", RESULTS, FINDINGS, waivers(("a", "service:svc-1", True)))
    out = by_team(results)
    assert out.at["a", "status"] == "warn"  # svc-2's warn is what is left
    assert out.at["a", "reason"] == "svc-2 lacks logs (and 1 more finding)."
    waived = findings.set_index("subject").loc["service:svc-1"]
    assert waived["outcome"] == "waived"
    assert waived["message"] == "Waived until 2026-12-15 by Dana: Agreed exception (svc-1 has no dashboard)"


def test_when_every_problem_is_waived_the_team_is_waived_and_says_why():
    results, _ = waive("c", RESULTS, FINDINGS, waivers(("b", "service:svc-3", True)))
    assert by_team(results).at["b", "status"] == "waived"
    assert by_team(results).at["b", "reason"].startswith("Waived until 2026-12-15 by Dana: Agreed exception (svc-3")


def test_a_subject_waiver_cannot_lift_a_team_level_problem():
    team_level = RESULTS.assign(status=["fail", "fail", "pass", "unknown"])  # b fails for a reason no finding carries
    results, findings = waive("c", team_level, FINDINGS, waivers(("b", "service:svc-3", True)))
    assert by_team(results).at["b", "status"] == "fail"
    assert findings.set_index("subject").at["service:svc-3", "outcome"] == "waived"


def test_the_latest_expiry_wins_between_two_active_waivers():
    renewed = pd.concat([waivers(("a", None, True)), waivers(("a", None, True)).assign(expires=dt.date(2027, 1, 10))])
    results, _ = waive("c", RESULTS, FINDINGS, renewed)
    assert by_team(results).at["a", "reason"].startswith("Waived until 2027-01-10")
