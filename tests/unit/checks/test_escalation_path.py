"""escalation-path over small organisations whose schedules ahead can be read at a glance.

Audit instant Monday 2026-11-16T00:00Z; coverage ahead 14 days, to 2026-11-30T00:00Z. The
team "pay" owns service pay-api (PagerDuty PV1) and schedule PS1, a weekly rotation of
Ann, Bob and Cat handing over on Mondays at 00:00; its policy PE1 pages PS1, then Mgr.
"""

from __future__ import annotations

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.source_catalogue import with_oncall_facts
from oncall_readiness.sources.pagerduty import normalise

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
ONLY = Catalogue(
    checks={"escalation-path": load_catalogue().checks["escalation-path"]},
    status_scores=load_catalogue().status_scores,
)
PEOPLE = ("ann", "bob", "cat", "mgr")


def user(name, *, rules=(("high", 0, "phone"),), blacklisted=()):
    """A PagerDuty user as ``GET /users?include[]=contact_methods&include[]=notification_rules`` returns it."""
    kinds = {kind for _, _, kind in rules} | {"email"}
    api = {"phone": "phone_contact_method", "sms": "sms_contact_method", "email": "email_contact_method"}
    api["push"] = "push_notification_contact_method"
    return {
        "id": f"P{name.upper()}",
        "name": name.title(),
        "email": f"{name}@example.com",
        "teams": [],
        "contact_methods": [
            {"id": f"C{name}{kind}", "type": api[kind], "label": "Work", "blacklisted": kind in blacklisted}
            for kind in sorted(kinds)
        ],
        "notification_rules": [
            {
                "id": f"R{name}{i}",
                "urgency": urgency,
                "start_delay_in_minutes": delay,
                "contact_method": {"id": f"C{name}{kind}", "type": api[kind] + "_reference"},
            }
            for i, (urgency, delay, kind) in enumerate(rules)
        ],
    }


def weekly(schedule_id, names, *, since="2026-11-09T00:00:00Z", weeks=4, skip=()):
    """Shifts of a weekly rotation from ``since``; ``skip`` holds (start, end) gaps cut out of it."""
    shifts = []
    for week in range(weeks):
        start = pd.Timestamp(since) + pd.Timedelta(weeks=week)
        shifts.append((start, start + pd.Timedelta(weeks=1), names[week % len(names)]))
    for gap_start, gap_end in skip:
        gap_start, gap_end = pd.Timestamp(gap_start), pd.Timestamp(gap_end)
        shifts = [
            piece
            for begin, end, who in shifts
            for piece in ((begin, min(end, gap_start), who), (max(begin, gap_end), end, who))
            if piece[0] < piece[1]
        ]
    return [
        {"schedule_id": schedule_id, "user_id": f"P{who.upper()}", "start": b.isoformat(), "end": e.isoformat()}
        for b, e, who in shifts
    ]


def policy(policy_id="PE1", levels=(("PS1",), ("mgr",)), delays=None):
    """Levels as tuples of targets: an id starting with PS is a schedule, anything else a user name."""
    delays = delays or [15] * len(levels)
    return {
        "id": policy_id,
        "name": "Pay",
        "num_loops": 0,
        "escalation_rules": [
            {
                "escalation_delay_in_minutes": delay,
                "targets": [
                    {"type": "schedule_reference", "id": t}
                    if t.startswith("PS")
                    else {"type": "user_reference", "id": f"P{t.upper()}"}
                    for t in targets
                ],
            }
            for targets, delay in zip(levels, delays, strict=True)
        ],
    }


def audit(*, users=None, shifts=None, policies=None, services=None, registry_services=None, thresholds=()):
    users = users or [user(name) for name in PEOPLE]
    facts = normalise(
        users=users,
        schedules=[{"id": "PS1", "name": "Pay primary", "time_zone": "UTC", "schedule_layers": []}],
        services=services if services is not None else [{"id": "PV1", "escalation_policy": {"id": "PE1"}}],
        policies=policies or [policy()],
        shifts=shifts if shifts is not None else weekly("PS1", ["ann", "bob", "cat"]),
    )
    facts["registry_teams"] = pd.DataFrame({"team": ["pay"], "opsgenie_team": [None]})
    facts["registry_services"] = pd.DataFrame(
        registry_services or [{"team": "pay", "service": "pay-api", "pagerduty_service_id": "PV1"}]
    ).assign(lifecycle="production")  # the check's scope
    facts["registry_team_schedules"] = pd.DataFrame({"team": ["pay"], "schedule_id": ["PS1"], "source": "pagerduty"})
    facts["registry_people"] = pd.DataFrame(
        [{"person": n, "display_name": n.title(), "email": f"{n}@example.com", "team": "pay"} for n in PEOPLE]
    )
    facts["registry_thresholds"] = pd.DataFrame(
        [("pay", "escalation-path", key, value) for key, value in thresholds],
        columns=["team", "check_id", "key", "value"],
    )
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=with_oncall_facts(facts), unavailable={}, catalogue=ONLY
    )
    return results.set_index("team").loc["pay"], findings.set_index("subject")


def test_a_policy_through_the_team_schedule_to_someone_else_with_everyone_reachable_passes():
    result, findings = audit()
    assert result["status"] == "pass", result["reason"]
    assert "next 14 days" in result["reason"]
    assert findings.at["service:pay-api", "outcome"] == "pass"
    assert findings.at["schedule:PS1", "outcome"] == "pass"


def test_a_gap_only_in_the_future_fails_naming_the_schedule_and_the_window():
    gap = ("2026-11-22T18:00:00Z", "2026-11-23T09:00:00Z")
    result, findings = audit(shifts=weekly("PS1", ["ann", "bob", "cat"], skip=[gap]))
    assert result["status"] == "fail"
    assert findings.at["schedule:PS1", "message"] == (
        "Nobody is on call in Pay primary from 2026-11-22 18:00 to 2026-11-23 09:00 UTC"
    )


def test_a_gap_before_the_audit_or_after_the_coverage_days_is_not_judged():
    gaps = [("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z"), ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")]
    result, _ = audit(shifts=weekly("PS1", ["ann", "bob", "cat"], skip=gaps))
    assert result["status"] == "pass", result["reason"]


def test_a_person_reachable_only_by_email_fails_for_the_window_they_are_on_call():
    users = [user("ann"), user("bob", rules=(("high", 0, "email"),)), user("cat"), user("mgr")]
    result, findings = audit(users=users)
    assert result["status"] == "fail"
    message = findings.at["person:bob", "message"]
    assert "from 2026-11-16 00:00 to 2026-11-23 00:00 UTC" in message
    assert "Bob has no high-urgency notification rule that calls, texts or pushes" in message


def test_a_blacklisted_phone_or_a_low_urgency_only_phone_wakes_nobody():
    users = [
        user("ann"),
        user("bob", rules=(("high", 0, "phone"),), blacklisted=("phone",)),
        user("cat", rules=(("low", 0, "phone"), ("high", 0, "email"))),
        user("mgr"),
    ]
    _, findings = audit(users=users)
    assert findings.at["person:bob", "outcome"] == "fail"
    assert findings.at["person:cat", "outcome"] == "fail"
    assert "person:ann" not in findings.index


def test_someone_else_reachable_at_the_same_level_keeps_the_window_covered():
    users = [user("ann"), user("bob", rules=(("high", 0, "email"),)), user("cat"), user("mgr")]
    levels = (("PS1", "ann"), ("mgr",))
    result, findings = audit(users=users, policies=[policy(levels=levels)])
    assert "person:bob" not in findings.index or findings.at["person:bob", "outcome"] != "fail"
    assert result["status"] != "fail"


def test_a_person_paged_by_phone_only_after_15_minutes_warns_by_name():
    users = [user("ann"), user("bob", rules=(("high", 0, "email"), ("high", 15, "phone"))), user("cat"), user("mgr")]
    result, findings = audit(users=users)
    assert result["status"] == "warn"
    assert findings.at["person:bob", "message"] == (
        'Bob is on call at the first level of escalation policy "Pay" from 2026-11-16 00:00 to 2026-11-23 00:00 '
        "UTC but is first called, texted or pushed 15 minutes after a page; at most 5 are allowed"
    )


def test_the_first_notification_threshold_is_per_team():
    users = [user("ann"), user("bob", rules=(("high", 15, "push"),)), user("cat"), user("mgr")]
    result, _ = audit(users=users, thresholds=[("max_first_notification_minutes", "15")])
    assert result["status"] == "pass", result["reason"]


def test_a_policy_whose_levels_all_page_the_same_person_warns_with_the_window():
    levels = (("PS1",), ("PS1", "bob"))  # Bob's week ahead: 2026-11-16 .. 2026-11-23 (Cat's is fine)
    result, findings = audit(policies=[policy(levels=levels)])
    assert result["status"] == "warn"
    assert findings.at["escalation_policy:PE1", "message"] == (
        'Every level of escalation policy "Pay" pages only Bob from 2026-11-16 00:00 to 2026-11-23 00:00 UTC: '
        "nobody comes next"
    )


def test_one_level_warns():
    result, findings = audit(policies=[policy(levels=(("PS1",),))])
    assert result["status"] == "warn"
    assert "has one level" in findings.at["escalation_policy:PE1", "message"]


def test_a_first_level_that_pages_a_named_person_warns():
    result, findings = audit(policies=[policy(levels=(("mgr",), ("PS1",)))])
    assert result["status"] == "warn"
    assert (
        "pages Mgr by name rather than the team's on-call schedule" in findings.at["escalation_policy:PE1", "message"]
    )


@pytest.mark.parametrize(("override", "status"), [((), "warn"), ((("max_escalation_delay_minutes", "45"),), "pass")])
def test_a_level_that_waits_too_long_warns_unless_the_team_allows_it(override, status):
    result, findings = audit(policies=[policy(delays=[45, 15])], thresholds=override)
    assert result["status"] == status, result["reason"]
    if status == "warn":
        assert 'Level 1 of escalation policy "Pay" waits 45 minutes' in findings.at["escalation_policy:PE1", "message"]


@pytest.mark.parametrize(
    ("registry", "services", "expected"),
    [
        (
            {"pagerduty_service_id": None},
            None,
            "pay-api names no PagerDuty service (annotation pagerduty.com/service-id)",
        ),
        ({"pagerduty_service_id": "PVGONE"}, None, "pay-api's PagerDuty service PVGONE does not exist"),
        ({}, [{"id": "PV1", "escalation_policy": None}], "pay-api has no escalation policy in PagerDuty"),
    ],
)
def test_a_service_that_cannot_page_anyone_fails(registry, services, expected):
    row = {"team": "pay", "service": "pay-api", "pagerduty_service_id": "PV1", **registry}
    result, findings = audit(registry_services=[row], services=services)
    assert result["status"] == "fail"
    assert findings.at["service:pay-api", "message"].startswith(expected)


def test_a_team_without_services_passes_saying_so():
    result, _ = audit(registry_services=[{"team": "other", "service": "x", "pagerduty_service_id": "PV1"}])
    assert (result["status"], result["reason"]) == ("pass", "The team owns no service in the registry.")


def test_pagerduty_unavailable_makes_it_unknown():
    facts_free = evaluate_checks(
        audit_instant=INSTANT,
        facts={  # no on-call facts at all: PagerDuty did not answer
            "registry_teams": pd.DataFrame({"team": ["pay"]}),
            "registry_thresholds": pd.DataFrame(columns=["team", "check_id", "key", "value"]),
        },
        unavailable={"pagerduty": "PagerDuty answered 503"},
        catalogue=ONLY,
    )[0]
    assert list(facts_free["status"]) == ["unknown"]
    assert "PagerDuty answered 503" in facts_free["reason"].iloc[0]


def test_a_service_whose_policy_pagerduty_does_not_list_fails():
    services = [{"id": "PV1", "escalation_policy": {"id": "PEGONE"}}]
    result, findings = audit(services=services)
    assert result["status"] == "fail"
    assert findings.at["escalation_policy:PEGONE", "message"] == (
        'Escalation policy "PEGONE" does not exist or has no levels: a page reaches nobody'
    )


def test_every_policy_of_the_team_is_judged():
    services = [{"id": "PV1", "escalation_policy": {"id": "PE1"}}, {"id": "PV2", "escalation_policy": {"id": "PE2"}}]
    registry = [
        {"team": "pay", "service": "pay-api", "pagerduty_service_id": "PV1"},
        {"team": "pay", "service": "pay-ledger", "pagerduty_service_id": "PV2"},
    ]
    policies = [policy(), policy("PE2", levels=(("PS1",),))]
    result, findings = audit(services=services, registry_services=registry, policies=policies)
    assert findings.at["escalation_policy:PE1", "outcome"] == "pass"
    assert "has one level" in findings.at["escalation_policy:PE2", "message"]
    assert result["status"] == "warn"
