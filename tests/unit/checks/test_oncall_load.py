"""oncall-load over one team's four weeks, as PagerDuty's responder analytics report them.

Audit instant Monday 2026-11-16T00:00Z; the weeks run back from it: W1 2026-10-19..10-26,
W2 ..11-02, W3 ..11-09, W4 ..11-16. Ann, Bob and Cat take turns; Hal is exempt (health).
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.source_catalogue import with_oncall_facts
from oncall_readiness.sources.pagerduty.facts import frame

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
ONLY = Catalogue(
    checks={"oncall-load": load_catalogue().checks["oncall-load"]},
    status_scores=load_catalogue().status_scores,
)
WEEK_ENDS = [INSTANT - pd.Timedelta(weeks=n) for n in (3, 2, 1, 0)]


def week(who, n, *, sleep=0, off=0, business=0, incidents=0, hours_on_call=0):
    """Responder ``who``'s figures for week ``n`` (1 = the oldest, 4 = the week before the audit)."""
    end = WEEK_ENDS[n - 1]
    return {
        "responder_id": f"P{who.upper()}",
        "week_start": (end - pd.Timedelta(weeks=1)).isoformat(),
        "week_end": end.isoformat(),
        "total_interruptions": sleep + off + business,
        "business_hour_interruptions": business,
        "off_hour_interruptions": off,
        "sleep_hour_interruptions": sleep,
        "total_notifications": sleep + off + business,
        "incident_count": incidents,
        "seconds_on_call": hours_on_call * 3600,
    }


def incident(number, who, service, created):
    return {
        "incident_id": f"Q{number}",
        "incident_number": number,
        "service_id": service,
        "status": "resolved",
        "urgency": "high",
        "created_at": created,
        "assigned_user_ids": f"P{who.upper()}",
        "origin": "analytics",
    }


def audit(weeks, *, incidents=(), thresholds=()):
    names = ("ann", "bob", "cat", "hal")
    facts = {
        "pagerduty_users": frame(
            "pagerduty_users",
            [{"user_id": f"P{n.upper()}", "name": n.title(), "email": f"{n}@example.com"} for n in names],
        ),
        "pagerduty_services": frame(
            "pagerduty_services",
            [{"service_id": "PV1", "name": "pay-api-pd"}, {"service_id": "PV2", "name": "ledger-pd"}],
        ),
        "pagerduty_responder_weeks": frame("pagerduty_responder_weeks", weeks),
        "pagerduty_incidents": frame("pagerduty_incidents", incidents),
        "registry_teams": pd.DataFrame({"team": ["pay"]}),
        "registry_people": pd.DataFrame(
            [
                {
                    "person": n,
                    "display_name": n.title(),
                    "email": f"{n}@example.com",
                    "team": "pay",
                    "oncall_exempt": "health" if n == "hal" else None,
                }
                for n in names
            ]
        ),
        "registry_services": pd.DataFrame(
            [{"service": "pay-api", "team": "pay", "pagerduty_service_id": "PV1"}],
            columns=["service", "team", "pagerduty_service_id"],
        ),
        "registry_thresholds": pd.DataFrame(
            [("pay", "oncall-load", key, value) for key, value in thresholds],
            columns=["team", "check_id", "key", "value"],
        ),
    }
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=with_oncall_facts(facts), unavailable={}, catalogue=ONLY
    )
    return results.set_index("team").loc["pay"], findings.set_index("subject")


def test_a_calm_rotation_passes():
    weeks = [
        week("ann", 1, sleep=1, off=2, incidents=3, hours_on_call=168),
        week("bob", 2, business=4, hours_on_call=168),
    ]
    result, findings = audit(weeks)
    assert result["status"] == "pass", result["reason"]
    assert findings.at["person:ann", "message"] == (
        "Ann: 1 sleep-hour and 2 off-hour interruptions in the last 28 days"
    )


def test_three_sleep_interruptions_in_one_week_fail_naming_the_week_and_the_noisiest_services():
    created = ["2026-11-10T02:00:00Z", "2026-11-11T03:00:00Z", "2026-11-12T23:30:00Z"]
    incidents = [incident(i, "ann", "PV1" if i < 2 else "PV2", at) for i, at in enumerate(created)]
    result, findings = audit([week("ann", 4, sleep=3, incidents=3, hours_on_call=168)], incidents=incidents)
    assert result["status"] == "fail"
    assert findings.at["person:ann", "message"] == (
        "Ann was woken 3 times in the week from 2026-11-09 to 2026-11-16 (at most 2), "
        "mostly from pay-api (2), ledger-pd (1)"
    )


def test_sleep_interruptions_spread_over_weeks_are_judged_week_by_week():
    weeks = [week("ann", n, sleep=2, hours_on_call=56) for n in (1, 2, 3, 4)]
    result, _ = audit(weeks)
    assert result["status"] == "pass", result["reason"]


def test_six_off_hour_interruptions_in_a_week_warn():
    result, findings = audit([week("bob", 2, off=6, hours_on_call=168, incidents=6)])
    assert result["status"] == "warn"
    assert (
        "Bob had 6 off-hour interruptions (evenings and weekends) in the week from 2026-10-26 to 2026-11-02"
        in (findings.at["person:bob", "message"])
    )


def test_more_than_two_incidents_per_twelve_hours_on_call_warns():
    # 7 incidents in 24 hours on call: 3.5 per 12-hour shift.
    result, findings = audit([week("cat", 3, business=7, incidents=7, hours_on_call=24)])
    assert result["status"] == "warn"
    assert findings.at["person:cat", "message"] == (
        "Cat had 7 incidents in 24 hours on call in the last 28 days: 3.5 per 12-hour shift (at most 2)"
    )


@pytest.mark.parametrize(
    ("key", "value", "figures"),
    [
        ("max_sleep_interruptions_per_week", "3", {"sleep": 3, "incidents": 3, "hours_on_call": 168}),
        ("max_incidents_per_shift", "4", {"business": 7, "incidents": 7, "hours_on_call": 24}),
    ],
)
def test_thresholds_are_per_team(key, value, figures):
    assert audit([week("ann", 4, **figures)])[0]["status"] != "pass"
    result, _ = audit([week("ann", 4, **figures)], thresholds=[(key, value)])
    assert result["status"] == "pass", result["reason"]


def test_an_exempt_person_is_not_judged():
    result, findings = audit([week("hal", 4, sleep=5, hours_on_call=168)])
    assert result["status"] == "pass"
    assert "person:hal" not in findings.index


def test_a_week_outside_the_window_is_not_judged():
    old = week("ann", 1, sleep=9)
    old["week_start"], old["week_end"] = "2026-10-01T00:00:00Z", "2026-10-08T00:00:00Z"
    result, _ = audit([old])
    assert result["status"] == "pass"
    assert result["reason"] == "Nobody in the team was interrupted by a page in the last 28 days."


def test_the_pass_reason_states_the_team_s_own_limits():
    result, _ = audit(
        [week("ann", 4, sleep=3, incidents=3, hours_on_call=168)],
        thresholds=[("max_sleep_interruptions_per_week", "3")],
    )
    assert result["reason"].startswith("Nobody on call had more than 3 sleep-hour or 5 off-hour interruptions")
