"""What every check shares: a team's result from its findings, one finding per subject, out-of-scope reasons.

These run over all teams at once (no loop with a pandas lookup per team); the cases below are
the ones the per-team loops handled: several teams, a team without findings, a team with only
passes, ties, several messages for one subject, a subject whose worst outcome is a pass.
"""

from __future__ import annotations

import pandas as pd

from oncall_readiness.checks import one_per_subject, results_from_findings
from oncall_readiness.checks.catalogue import out_of_scope_reason, out_of_scope_reasons


def findings(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["team", "subject", "outcome", "message"]).astype("str")


def test_each_team_gets_its_worst_finding_and_the_count_of_the_others():
    found = findings(
        ("alpha", "service:b", "warn", "b is slow"),
        ("alpha", "service:a", "fail", "a is down"),
        ("alpha", "service:c", "pass", "c is fine"),
        ("alpha", "service:d", "warn", "d is slow"),
        ("beta", "service:e", "pass", "e is fine"),
        ("gamma", "service:g", "unknown", "g could not be read"),
        ("gamma", "service:f", "unknown", "f could not be read"),
        ("delta", "service:h", "warn", "h is slow"),
    )
    results = results_from_findings(pd.Series(["gamma", "alpha", "beta", "delta", "omega"]), found, all_clear="Fine.")
    assert results.to_dict("records") == [
        # unknown ties: the first subject leads
        {"team": "gamma", "status": "unknown", "reason": "f could not be read (and 1 more finding)."},
        {"team": "alpha", "status": "fail", "reason": "a is down (and 2 more findings)."},
        {"team": "beta", "status": "pass", "reason": "Fine."},  # passes only
        {"team": "delta", "status": "warn", "reason": "h is slow."},
        {"team": "omega", "status": "pass", "reason": "Fine."},  # no finding at all
    ]
    assert list(results.columns) == ["team", "status", "reason"]


def test_no_teams_and_no_findings_give_an_empty_result():
    results = results_from_findings(pd.Series([], dtype="str"), findings(), all_clear="Fine.")
    assert results.empty and list(results.columns) == ["team", "status", "reason"]


def test_one_finding_per_subject_keeps_the_worst_outcome_with_every_message_that_is_not_a_pass():
    found = findings(
        ("alpha", "person:ada", "pass", "ada takes turns"),
        ("alpha", "person:ada", "warn", "ada was busy in week 1"),
        ("alpha", "person:ada", "fail", "ada was woken in week 2"),
        ("alpha", "person:bob", "pass", "bob takes turns"),
        ("alpha", "person:bob", "pass", "bob: 0 interruptions"),
        ("beta", "person:ada", "warn", "ada was busy in week 3"),
        ("beta", "person:cy", "warn", "cy was busy in week 1"),
        ("beta", "person:cy", "warn", "cy was busy in week 2"),
    )
    one = one_per_subject(found)
    assert one.to_dict("records") == [
        {
            "team": "alpha",
            "subject": "person:ada",
            "outcome": "fail",
            "message": "ada was woken in week 2; ada was busy in week 1",
        },
        {
            "team": "alpha",
            "subject": "person:bob",
            "outcome": "pass",
            "message": "bob takes turns; bob: 0 interruptions",
        },
        {"team": "beta", "subject": "person:ada", "outcome": "warn", "message": "ada was busy in week 3"},
        {
            "team": "beta",
            "subject": "person:cy",
            "outcome": "warn",
            "message": "cy was busy in week 1; cy was busy in week 2",
        },
    ]


def test_out_of_scope_reasons_name_the_first_field_outside_the_scope_for_every_service():
    services = pd.DataFrame(
        {
            "service": ["a", "b", "c", "d", "e"],
            "lifecycle": ["experimental", "production", None, " Production ", "production"],
            "tier": ["1", "3", "1", "2", ""],
        }
    )
    scope = {"lifecycle": ("production",), "tier": ("1", "2")}
    reasons = out_of_scope_reasons(services, scope)
    assert reasons == [
        "lifecycle experimental (the check applies to lifecycle production)",
        "tier 3 (the check applies to tier 1 or 2)",
        "lifecycle not set (the check applies to lifecycle production)",
        "in scope",
        "tier not set (the check applies to tier 1 or 2)",
    ]
    assert reasons == [out_of_scope_reason(row, scope) for _, row in services.iterrows()]
    # A field the registry does not have is "not set" for every service.
    assert (
        out_of_scope_reasons(services, {"type": ("service",)})
        == ["type not set (the check applies to type service)"] * 5
    )
