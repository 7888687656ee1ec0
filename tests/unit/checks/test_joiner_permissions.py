"""joiner-permissions over small, eye-checkable organisations.

Audit instant 2026-11-16T00:00Z; joiners started on or after 2026-08-18 (90 days); the
grace period is 2 days (a start on 2026-11-14 is still within it, 2026-11-13 is not).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.hr import COLUMNS as HR_COLUMNS
from oncall_readiness.source_catalogue import with_oncall_facts
from oncall_readiness.sources import grafana, pagerduty

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
CHECK = "joiner-permissions"


def person(name, team, start):
    return {
        "person": name,
        "display_name": name.title(),
        "email": f"{name}@example.com",
        "team": team,
        "start_date": dt.date.fromisoformat(start) if start else None,
    }


def audit(
    people,
    *,
    pagerduty_users=(),
    grafana_members=(),
    teams=None,
    grafana_teams=None,
    hr=(),
    thresholds=(),
    unavailable=None,
):
    """``grafana_members``: (grafana team, email); ``teams``: team -> its grafana/team (default: same name)."""
    teams = teams or {p["team"]: p["team"] for p in people}
    grafana_teams = grafana_teams if grafana_teams is not None else sorted({t for t in teams.values() if t})
    team_ids = {name: i for i, name in enumerate(grafana_teams, start=1)}
    facts = pagerduty.normalise(
        users=[{"id": f"P{i}", "name": e, "email": e} for i, e in enumerate(pagerduty_users)],
        schedules=[],
        services=[],
        policies=[],
        shifts=[],
    )
    facts |= grafana.normalise(
        dashboards=[],
        teams=[{"id": team_ids[name], "name": name, "memberCount": 0} for name in grafana_teams],
        members=[({"id": team_ids[team], "name": team}, {"email": email}) for team, email in grafana_members],
        rules=[],
    )
    facts["registry_teams"] = pd.DataFrame({"team": list(teams), "grafana_team": list(teams.values())})
    facts["registry_people"] = pd.DataFrame(people)
    facts["registry_thresholds"] = pd.DataFrame(list(thresholds), columns=["team", "check_id", "key", "value"])
    if hr:
        facts["registry_hr_joiners"] = pd.DataFrame(
            [{**row, "start_date": dt.date.fromisoformat(row["start_date"]), "source": "hr.csv:2"} for row in hr],
            columns=HR_COLUMNS,
        )
    catalogue = load_catalogue()
    only = dataclasses.replace(catalogue, checks={CHECK: catalogue.checks[CHECK]})
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=with_oncall_facts(facts), unavailable=unavailable or {}, catalogue=only
    )
    return results.set_index("team"), findings.set_index("subject")


def with_access(*names):
    emails = [f"{name}@example.com" for name in names]
    return {"pagerduty_users": emails, "grafana_members": [("shop", email) for email in emails]}


def test_joiners_with_both_accesses_pass():
    people = [person("ann", "shop", "2026-10-01"), person("bob", "shop", "2026-11-14")]
    results, findings = audit(people, **with_access("ann", "bob"))
    assert results.at["shop", "status"] == "pass" and results.at["shop", "score"] == 10
    assert results.at["shop", "reason"] == (
        "Every joiner of the last 90 days has a PagerDuty user and the team's Grafana team membership."
    )
    assert findings.at["person:ann", "message"] == "Ann has a PagerDuty user and is in the Grafana team shop"


def test_no_joiners_pass_and_old_or_future_starts_are_not_joiners():
    people = [
        person("old", "shop", "2026-08-17"),  # 91 days: no longer a joiner
        person("future", "shop", "2026-11-17"),  # has not started yet
        person("unknown", "shop", None),
    ]
    results, findings = audit(people)
    assert results.at["shop", "status"] == "pass"
    assert results.at["shop", "reason"] == "No one joined in the last 90 days."
    assert findings.empty


def test_the_first_day_of_the_window_still_counts():
    results, _ = audit([person("edge", "shop", "2026-08-18")])
    assert results.at["shop", "status"] == "fail"


def test_missing_access_after_the_grace_period_fails_naming_person_and_system():
    people = [person("ann", "shop", "2026-11-13"), person("bob", "shop", "2026-11-01")]
    results, findings = audit(
        people, pagerduty_users=["bob@example.com"], grafana_members=[("shop", "ann@example.com")]
    )
    assert results.at["shop", "status"] == "fail" and results.at["shop", "score"] == 0
    assert findings.at["person:ann", "message"] == "Ann has no PagerDuty user, 3 days after starting on 2026-11-13"
    assert findings.at["person:bob", "message"] == (
        "Bob is not in the Grafana team shop, 15 days after starting on 2026-11-01"
    )


def test_missing_access_within_the_grace_period_warns():
    results, findings = audit([person("ann", "shop", "2026-11-14"), person("bob", "shop", "2026-11-16")])
    assert results.at["shop", "status"] == "warn" and results.at["shop", "score"] == 5
    assert findings.at["person:ann", "message"] == (
        "Ann has no PagerDuty user and is not in the Grafana team shop yet, 2 days after starting on 2026-11-14 "
        "(within the 2-day grace period)"
    )
    assert "0 days after starting on 2026-11-16" in findings.at["person:bob", "message"]


def test_emails_match_without_case():
    people = [{**person("ann", "shop", "2026-11-01"), "email": "Ann@Example.com"}]
    results, _ = audit(people, pagerduty_users=["ANN@example.com"], grafana_members=[("shop", "ann@EXAMPLE.com")])
    assert results.at["shop", "status"] == "pass"


def test_a_team_without_grafana_team_fails_its_joiners_even_within_the_grace_period():
    results, findings = audit(
        [person("ann", "shop", "2026-11-15")], pagerduty_users=["ann@example.com"], teams={"shop": None}
    )
    assert results.at["shop", "status"] == "fail"
    assert findings.at["person:ann", "message"] == (
        "Ann cannot get Grafana access: the team has no grafana/team annotation, 1 day after starting on 2026-11-15"
    )


def test_a_grafana_team_that_does_not_exist_fails():
    results, findings = audit(
        [person("ann", "shop", "2026-11-01")],
        pagerduty_users=["ann@example.com"],
        teams={"shop": "shop-team"},
        grafana_teams=["other"],
    )
    assert results.at["shop", "status"] == "fail"
    assert "the Grafana team shop-team (grafana/team) does not exist" in findings.at["person:ann", "message"]


def test_thresholds_are_overridden_per_team():
    people = [
        person("ann", "shop", "2026-11-10"),
        person("bob", "ops", "2026-11-10"),
        person("cy", "ops", "2026-06-01"),
    ]
    overrides = [("shop", CHECK, "grace_days", "7"), ("ops", CHECK, "joiner_days", "365")]
    results, findings = audit(people, thresholds=overrides)
    assert results.at["shop", "status"] == "warn"  # 6 days in, 7 days of grace
    assert results.at["ops", "status"] == "fail"
    assert "person:cy" in findings.index  # a joiner of the last 365 days


def test_the_hr_export_replaces_start_dates_withdraws_leavers_and_adds_new_hires():
    people = [
        person("ann", "shop", "2025-01-06"),  # HR: moved into the team on 2026-11-01
        person("bob", "shop", "2026-11-01"),  # HR: a leaver
        person("cy", "shop", "2026-11-01"),  # not in the export: the catalog's date stands
    ]
    hr = [
        {"email": "ANN@example.com", "name": None, "team": "shop", "start_date": "2026-11-01", "status": "active"},
        {"email": "bob@example.com", "name": "Bob", "team": "shop", "start_date": "2026-11-01", "status": "leaver"},
        {
            "email": "dee@example.com",
            "name": "Dee Lane",
            "team": "shop",
            "start_date": "2026-11-15",
            "status": "active",
        },
        {"email": "eve@example.com", "name": "Eve", "team": "shop", "start_date": "2026-12-01", "status": "pending"},
    ]
    results, findings = audit(people, hr=hr, **with_access("cy"))
    assert sorted(findings.index) == ["person:ann", "person:cy", "person:dee@example.com"]
    assert findings.at["person:ann", "message"] == (
        "Ann has no PagerDuty user and is not in the Grafana team shop, 15 days after starting on 2026-11-01"
    )
    assert findings.at["person:dee@example.com", "outcome"] == "warn"
    assert findings.at["person:dee@example.com", "message"].startswith("Dee Lane has no PagerDuty user")
    assert findings.at["person:dee@example.com", "message"].endswith(
        "; only the HR export lists them, the catalog not yet"
    )


@pytest.mark.parametrize("source", ["grafana", "pagerduty"])
def test_an_unavailable_source_makes_the_check_unknown_with_the_reason(source):
    results, findings = audit(
        [person("ann", "shop", "2026-11-01")], unavailable={source: "it failed validation with 1 failed expectation"}
    )
    assert results.at["shop", "status"] == "unknown"
    assert pd.isna(results.at["shop", "score"])
    assert results.at["shop", "reason"] == (
        f"{source} data is unavailable: it failed validation with 1 failed expectation."
    )
    assert findings.empty
