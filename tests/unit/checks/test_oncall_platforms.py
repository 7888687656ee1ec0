"""Teams on two on-call platforms: the checks judge each from the platform-neutral on-call facts.

Audit instant Monday 2026-11-16T00:00Z. "pay" is on PagerDuty (schedule PS1, policy PE1);
"search" is on Jira Service Management Operations (schedule J-S1, escalation J-E1), whose API
shows a person's notification rules only to that person. Both rotate Ann/Bob/Cat-like trios
weekly; the facts are written as each platform's collector gives them (``oncall_facts``).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from oncall_readiness import oncall_facts
from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
TEAMS = {"pay": ("pagerduty", ("ann", "bob", "cat")), "search": ("jsm_ops", ("dan", "eve", "fay"))}
SCHEDULES = {"pay": "PS1", "search": "J-S1"}
POLICIES = {"pay": "PE1", "search": "J-E1"}
MANAGERS = {"pay": "mgr", "search": "boss"}


def only(check_id):
    """The check alone, reading both platforms (as checks.yaml lists every on-call platform it reads)."""
    catalogue = load_catalogue()
    check = catalogue.checks[check_id]
    check = dataclasses.replace(check, sources=tuple(dict.fromkeys([*check.sources, "pagerduty", "jsm_ops"])))
    return Catalogue(checks={check_id: check}, status_scores=catalogue.status_scores)


def platform_facts(team, *, gap=False, visible_rules=()):
    """One team's on-call facts as its platform gives them; ``visible_rules``: the JSM users whose rules it shows."""
    platform, people = TEAMS[team]
    schedule, policy, manager = SCHEDULES[team], POLICIES[team], MANAGERS[team]
    shifts = []
    for week in range(4):
        start = pd.Timestamp("2026-11-09T00:00:00Z") + pd.Timedelta(weeks=week)
        shifts.append(
            {"schedule_id": schedule, "user_id": people[week % 3], "start": start, "end": start + pd.Timedelta(weeks=1)}
        )
    if gap:  # nobody on call on 2026-11-20
        shifts = [s for s in shifts if s["start"] != pd.Timestamp("2026-11-16T00:00:00Z")]
        shifts += [
            {
                "schedule_id": schedule,
                "user_id": people[1],
                "start": pd.Timestamp("2026-11-16T00:00:00Z"),
                "end": pd.Timestamp("2026-11-20T00:00:00Z"),
            },
            {
                "schedule_id": schedule,
                "user_id": people[1],
                "start": pd.Timestamp("2026-11-21T00:00:00Z"),
                "end": pd.Timestamp("2026-11-23T00:00:00Z"),
            },
        ]
    everyone = [*people, manager]
    shows_rules = everyone if platform == "pagerduty" else list(visible_rules)
    rows = {
        "oncall_users": [
            {"user_id": u, "name": u.title(), "email": f"{u}@example.com", "time_zone": "UTC"} for u in everyone
        ],
        "oncall_notification_rules": [
            {
                "user_id": u,
                "rule_id": f"R{u}",
                "urgency": "high",
                "start_delay_minutes": 0,
                "contact_method_id": f"C{u}",
                "contact_method_type": "phone",
                "deliverable": True,
            }
            for u in shows_rules
        ],
        "oncall_schedules": [{"schedule_id": schedule, "name": f"{team.title()} on-call", "time_zone": "UTC"}],
        "oncall_team_schedules": [{"team": team, "schedule_id": schedule}],
        "oncall_rotation_members": [
            {
                "schedule_id": schedule,
                "rotation_id": "R1",
                "rotation_name": "Weekly",
                "rotation_position": 1,
                "member_position": i + 1,
                "user_id": u,
                "turn_length_seconds": 7 * 86400,
                "rotation_start": pd.Timestamp("2026-01-05T00:00:00Z"),
            }
            for i, u in enumerate(people)
        ],
        "oncall_shifts": shifts,
        "oncall_escalation_levels": [
            {
                "escalation_policy_id": policy,
                "escalation_policy_name": team.title(),
                "num_loops": 0,
                "level": 1,
                "delay_minutes": 10,
                "target_type": "schedule",
                "target_id": schedule,
            },
            {
                "escalation_policy_id": policy,
                "escalation_policy_name": team.title(),
                "num_loops": 0,
                "level": 2,
                "delay_minutes": 10,
                "target_type": "user",
                "target_id": manager,
            },
        ],
        "oncall_services": [{"service_id": f"{team}-svc", "name": f"{team}-api", "escalation_policy_id": policy}],
        "oncall_service_links": [{"service": f"{team}-api", "team": team, "service_id": f"{team}-svc"}],
    }
    return {table: oncall_facts.frame(table, table_rows, platform) for table, table_rows in rows.items()}


def audit(check_id, *, unavailable=None, jsm=None, pay=None):
    given = {"pagerduty": pay or platform_facts("pay"), "jsm_ops": jsm or platform_facts("search")}
    given = {name: facts for name, facts in given.items() if name not in (unavailable or {})}
    facts = oncall_facts.combine(given)
    people = [
        {
            "person": u,
            "display_name": u.title(),
            "email": f"{u}@example.com",
            "team": team,
            "oncall_exempt": None,
            "start_date": None,
        }
        for team, (_, members) in TEAMS.items()
        for u in members
    ]
    facts |= {
        "registry_teams": pd.DataFrame(
            {
                "team": list(TEAMS),
                "parent": [None, None],
                "opsgenie_team": [None, None],
                "oncall_platform": [platform for platform, _ in TEAMS.values()],
                "incident_commander_schedule": [None, None],
            }
        ),
        "registry_people": pd.DataFrame(people),
        "registry_services": pd.DataFrame(
            {
                "service": ["pay-api", "search-api"],
                "team": list(TEAMS),
                "lifecycle": "production",
                "type": "service",
                "tier": None,
            }
        ),
        "registry_thresholds": pd.DataFrame(columns=["team", "check_id", "key", "value"]),
    }
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable=unavailable or {}, catalogue=only(check_id)
    )
    return results.set_index("team"), findings


def test_both_platforms_teams_pass_when_both_are_sound_and_rules_are_shown():
    visible = platform_facts("search", visible_rules=("dan", "eve", "fay", "boss"))
    results, _ = audit("escalation-path", jsm=visible)
    assert results.at["pay", "status"] == "pass", results.at["pay", "reason"]
    assert results.at["search", "status"] == "pass", results.at["search", "reason"]
    results, _ = audit("rotation-sustainability", jsm=visible)
    assert list(results["status"]) == ["pass", "pass"], results["reason"].tolist()


def test_hidden_notification_rules_make_reachability_unknown_never_a_pass():
    results, findings = audit("escalation-path")
    assert results.at["pay", "status"] == "pass"
    assert results.at["search", "status"] == "unknown"
    assert "shows a person's notification rules only to that person" in results.at["search", "reason"]
    unknown = findings[(findings["team"] == "search") & (findings["outcome"] == "unknown")]
    assert set(unknown["subject"]) == {"person:eve", "person:fay"}  # on call in the next 14 days


def test_a_coverage_gap_on_jsm_fails_although_reachability_is_unknown():
    results, findings = audit("escalation-path", jsm=platform_facts("search", gap=True))
    assert results.at["search", "status"] == "fail"
    gap = findings[(findings["team"] == "search") & (findings["subject"] == "schedule:J-S1")]
    assert gap["outcome"].tolist() == ["fail"]
    assert "from 2026-11-20 00:00 to 2026-11-21 00:00 UTC" in gap["message"].iloc[0]


def test_a_jsm_user_whose_rules_are_shown_is_judged():
    results, findings = audit("escalation-path", jsm=platform_facts("search", visible_rules=("eve",)))
    eve = findings[(findings["team"] == "search") & (findings["subject"] == "person:eve")]
    assert "unknown" not in eve["outcome"].tolist()
    assert results.at["search", "status"] == "unknown"  # dan and fay stay unknown


@pytest.mark.parametrize("check_id", ["escalation-path", "rotation-sustainability", "oncall-load", "incident-command"])
def test_an_unavailable_platform_makes_only_its_teams_unknown(check_id):
    results, findings = audit(check_id, unavailable={"pagerduty": "PagerDuty answered 503"})
    assert (results.at["pay", "status"], results.at["pay", "reason"]) == (
        "unknown",
        "pagerduty data is unavailable: PagerDuty answered 503.",
    )
    assert "data is unavailable" not in results.at["search", "reason"]  # judged on what JSM gave
    assert not (findings["team"] == "pay").any()


def test_every_team_on_the_unavailable_platform_is_the_whole_check_unknown():
    results, _ = audit(
        "escalation-path", unavailable={"pagerduty": "PagerDuty answered 503", "jsm_ops": "JSM answered 503"}
    )
    assert results["status"].tolist() == ["unknown", "unknown"]


def test_a_team_is_told_in_its_own_platforms_words():
    results, findings = audit(
        "rotation-sustainability",
        jsm={
            **platform_facts("search"),
            "oncall_team_schedules": oncall_facts.frame("oncall_team_schedules", [], "jsm_ops"),
        },
    )
    assert results.at["search", "status"] == "fail"
    assert results.at["search", "reason"] == "The team has no on-call schedule in Jira Service Management Operations."


def test_a_platform_no_team_is_on_is_not_named_when_every_team_is_unknown():
    facts = oncall_facts.combine({}) | {
        "registry_teams": pd.DataFrame({"team": ["pay"], "oncall_platform": ["pagerduty"]}),
        "registry_thresholds": pd.DataFrame(columns=["team", "check_id", "key", "value"]),
    }
    unavailable = {"pagerduty": "PagerDuty answered 503", "jsm_ops": "the connection jsm_ops_default is not defined"}
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=facts, unavailable=unavailable, catalogue=only("escalation-path")
    )
    assert results[["team", "status", "reason"]].values.tolist() == [
        ["pay", "unknown", "pagerduty data is unavailable: PagerDuty answered 503."]
    ]
    assert findings.empty
