"""rotation-sustainability over small, eye-checkable organisations.

Audit instant 2026-11-16T00:00Z, window 28 days (2026-10-19 .. 2026-11-16): four weeks.
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.source_catalogue import with_oncall_facts
from oncall_readiness.sources.pagerduty import normalise

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
ROTATION_ONLY = Catalogue(
    checks={"rotation-sustainability": load_catalogue().checks["rotation-sustainability"]},
    status_scores=load_catalogue().status_scores,
)
WEEK = 7 * 24 * 3600
DAY = 24 * 3600


def person(name, team, *, exempt=None, email=None):
    return {
        "person": name,
        "display_name": name.title(),
        "email": email or f"{name}@example.com",
        "team": team,
        "start_date": None,
        "oncall_exempt": exempt,
    }


def pd_user(name):
    return {"id": f"P{name.upper()}", "name": name.title(), "email": f"{name}@example.com", "teams": []}


def rotation(schedule_id, users, *, turn=WEEK, start="2026-01-05T00:00:00Z", overrides=()):
    """A PagerDuty schedule payload with one layer and its final schedule over the window."""
    since, until = INSTANT - pd.Timedelta(days=28), INSTANT
    origin = pd.Timestamp(start)
    entries, i = [], 0
    while True:
        begin = origin + pd.Timedelta(seconds=i * turn)
        end = begin + pd.Timedelta(seconds=turn)
        i += 1
        if end <= since:
            continue
        if begin >= until:
            break
        entries.append((max(begin, since), min(end, until), users[(i - 1) % len(users)]))
    for o_start, o_end, o_user in overrides:
        o_start, o_end = pd.Timestamp(o_start), pd.Timestamp(o_end)
        entries = [
            piece
            for begin, end, user in entries
            for piece in ((begin, min(end, o_start), user), (max(begin, o_end), end, user))
            if piece[0] < piece[1]
        ] + [(o_start, o_end, o_user)]
    return {
        "id": schedule_id,
        "name": f"{schedule_id} rotation",
        "time_zone": "UTC",
        "schedule_layers": [
            {
                "id": f"{schedule_id}-L1",
                "name": "Layer 1",
                "start": start,
                "end": None,
                "rotation_turn_length_seconds": turn,
                "users": [{"user": {"id": f"P{u.upper()}"}} for u in users],
            }
        ],
        "final_schedule": {
            "rendered_schedule_entries": [
                {"start": b.isoformat(), "end": e.isoformat(), "user": {"id": f"P{u.upper()}"}} for b, e, u in entries
            ]
        },
    }


def audit(teams, people, links, schedules, *, thresholds=(), users=None):
    names = {p["person"] for p in people}
    shifts = [
        {"schedule_id": schedule["id"], "user_id": entry["user"]["id"], "start": entry["start"], "end": entry["end"]}
        for schedule in schedules
        for entry in schedule["final_schedule"]["rendered_schedule_entries"]
    ]
    facts = normalise(
        users=users if users is not None else [pd_user(n) for n in sorted(names)],
        schedules=schedules,
        services=[],
        policies=[],
        shifts=shifts,
    )
    facts["registry_teams"] = pd.DataFrame({"team": teams, "opsgenie_team": [None] * len(teams)})
    facts["registry_people"] = pd.DataFrame(people)
    facts["registry_team_schedules"] = pd.DataFrame(links, columns=["team", "schedule_id"])
    facts["registry_thresholds"] = pd.DataFrame(list(thresholds), columns=["team", "check_id", "key", "value"])
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=with_oncall_facts(facts), unavailable={}, catalogue=ROTATION_ONLY
    )
    results = results[results["check_id"] == "rotation-sustainability"].set_index("team")
    return results, findings[findings["check_id"] == "rotation-sustainability"]


def test_three_people_in_weekly_turns_pass():
    people = [person(n, "payments") for n in ("ann", "bob", "cat")]
    results, findings = audit(["payments"], people, [("payments", "PS1")], [rotation("PS1", ["ann", "bob", "cat"])])
    assert results.at["payments", "status"] == "pass"
    assert results.at["payments", "score"] == 10
    assert set(findings["outcome"]) == {"pass"}


def test_two_people_fail_and_the_reason_says_how_many():
    people = [person(n, "notify") for n in ("ann", "bob")]
    results, _ = audit(["notify"], people, [("notify", "PS1")], [rotation("PS1", ["ann", "bob"])])
    assert results.at["notify", "status"] == "fail"
    assert results.at["notify", "score"] == 0
    assert "has 2 people on call; at least 3 are needed" in results.at["notify", "reason"]


def test_the_reason_leads_with_the_worst_finding_and_counts_the_rest():
    people = [person(n, "notify") for n in ("ann", "bob", "cat", "dan")]
    results, _ = audit(["notify"], people, [("notify", "PS1")], [rotation("PS1", ["ann", "bob"])])
    assert results.at["notify", "status"] == "fail"
    assert results.at["notify", "reason"] == (
        "PS1 rotation has 2 people on call; at least 3 are needed (and 2 more findings)."
    )


def test_daily_turns_warn():
    people = [person(n, "search") for n in ("ann", "bob", "cat", "dan")]
    results, _ = audit(
        ["search"], people, [("search", "PS1")], [rotation("PS1", ["ann", "bob", "cat", "dan"], turn=DAY)]
    )
    assert results.at["search", "status"] == "warn"
    assert "hands over every 1 day; turns of 1 week are expected" in results.at["search", "reason"]


def test_member_missing_from_rotation_is_named():
    people = [person(n, "catalog") for n in ("ann", "bob", "cat", "dan")]
    results, findings = audit(["catalog"], people, [("catalog", "PS1")], [rotation("PS1", ["ann", "bob", "cat"])])
    assert results.at["catalog", "status"] == "warn"
    missing = findings[findings["subject"] == "person:dan"].iloc[0]
    assert missing["outcome"] == "warn"
    assert missing["message"] == "Dan is not in any of the team's rotations"


def test_member_without_a_pagerduty_user_is_named():
    people = [person(n, "catalog") for n in ("ann", "bob", "cat", "eve")]
    users = [pd_user(n) for n in ("ann", "bob", "cat")]
    _, findings = audit(
        ["catalog"], people, [("catalog", "PS1")], [rotation("PS1", ["ann", "bob", "cat"])], users=users
    )
    eve = findings[findings["subject"] == "person:eve"].iloc[0]
    assert (eve["outcome"], eve["message"]) == ("warn", "Eve has no PagerDuty user, so takes no on-call turns")


def test_exempt_member_is_never_counted_against_the_team():
    people = [person(n, "checkout") for n in ("ann", "bob", "cat")] + [person("dan", "checkout", exempt="health")]
    results, findings = audit(["checkout"], people, [("checkout", "PS1")], [rotation("PS1", ["ann", "bob", "cat"])])
    assert results.at["checkout", "status"] == "pass"
    dan = findings[findings["subject"] == "person:dan"].iloc[0]
    assert dan["outcome"] == "pass" and "exempt" in dan["message"]
    assert "health" not in dan["message"]  # the reason is private; the fact of exemption is enough


def test_someone_covering_a_whole_extra_week_is_named():
    names = ["ann", "bob", "cat", "dan"]
    schedule = rotation("PS1", names, overrides=[("2026-11-02T00:00:00Z", "2026-11-09T00:00:00Z", "ann")])
    results, findings = audit(["identity"], [person(n, "identity") for n in names], [("identity", "PS1")], [schedule])
    assert results.at["identity", "status"] == "warn"
    ann = findings[findings["subject"] == "person:ann"].iloc[0]
    assert ann["outcome"] == "warn"
    assert "was on call 336 h of the last 28 days" in ann["message"]
    assert "168 h a fair turn among 4 people allows" in ann["message"]


def test_natural_round_robin_with_three_people_is_fair():
    # Four weeks among three people: someone necessarily does two weeks; that is no overload.
    names = ["ann", "bob", "cat"]
    results, _ = audit(["t"], [person(n, "t") for n in names], [("t", "PS1")], [rotation("PS1", names)])
    assert results.at["t", "status"] == "pass"


def test_team_without_schedule_fails_and_unknown_schedule_fails():
    results, findings = audit(
        ["lonely", "typo"],
        [person("ann", "lonely"), person("bob", "typo")],
        [("typo", "PSNOPE")],
        [],
    )
    assert results.at["lonely", "status"] == "fail"
    assert "No on-call schedule is linked" in results.at["lonely", "reason"]
    assert results.at["typo", "status"] == "fail"
    assert "PSNOPE linked in the catalog does not exist in PagerDuty" in results.at["typo", "reason"]


def test_per_team_threshold_override():
    names = ["ann", "bob"]
    results, _ = audit(
        ["pair"],
        [person(n, "pair") for n in names],
        [("pair", "PS1")],
        [rotation("PS1", names)],
        thresholds=[("pair", "rotation-sustainability", "min_people", "2")],
    )
    assert results.at["pair", "status"] == "pass"


def test_bad_threshold_override_names_team_and_annotation():
    from oncall_readiness.errors import CatalogueError

    with pytest.raises(CatalogueError, match=r"team .pair.*readiness/rotation-sustainability.min_people.*whole number"):
        audit(
            ["pair"],
            [person("ann", "pair")],
            [("pair", "PS1")],
            [rotation("PS1", ["ann"])],
            thresholds=[("pair", "rotation-sustainability", "min_people", "two")],
        )


def test_unavailable_pagerduty_makes_the_check_unknown_never_pass_or_fail():
    facts = normalise(users=[], schedules=[], services=[], policies=[], shifts=[])
    facts["registry_teams"] = pd.DataFrame({"team": ["a", "b"], "opsgenie_team": [None, None]})
    facts["registry_thresholds"] = pd.DataFrame(columns=["team", "check_id", "key", "value"])
    results, findings = evaluate_checks(
        audit_instant=INSTANT,
        facts=with_oncall_facts(facts),
        unavailable={"pagerduty": "SourceError: GET /users answered 503"},
        catalogue=ROTATION_ONLY,
    )
    assert list(results["status"]) == ["unknown", "unknown"]
    assert results["score"].isna().all()
    assert "pagerduty data is unavailable: SourceError: GET /users answered 503" in results["reason"].iloc[0]
    assert findings.empty
