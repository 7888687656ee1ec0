"""incident-command over a small organisation whose commanders and workflows can be read at a glance.

Audit instant Monday 2026-11-16T00:00Z; coverage ahead 14 days, to 2026-11-30T00:00Z. The
group tree is org > dept > pay; org names the commander schedule PS9 ("Commanders": Ivy and Jo
weekly, handing over on Mondays at 00:00). The team pay owns pay-api (PagerDuty PV1) and the
weekly schedule PS1 of Ann, Bob and Cat. Escalation policy PE9 pages PS9; the workflow WF1
("Major incident") adds PE9 as responders, triggered on the top priority P1 for PV1.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from oncall_readiness.checks.catalogue import Catalogue, load_catalogue
from oncall_readiness.checks.incident_command import _starts_for_every_major
from oncall_readiness.checks.runner import evaluate_checks
from oncall_readiness.frames import records
from oncall_readiness.source_catalogue import with_oncall_facts
from oncall_readiness.sources.pagerduty import normalise
from oncall_readiness.sources.pagerduty.facts import frame
from oncall_readiness.sources.pagerduty.oncall import _workflow_triggers as oncall_facts_of_triggers
from oncall_readiness.sources.pagerduty.workflows import WorkflowReads

INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
ONLY = Catalogue(
    checks={"incident-command": load_catalogue().checks["incident-command"]},
    status_scores=load_catalogue().status_scores,
)
TEAM = ("ann", "bob", "cat")
COMMANDERS = ("ivy", "jo")
ADD_RESPONDERS = "pagerduty.com:incident-workflows:add-responders:2"


def user(name, *, wakes=True):
    """A PagerDuty user whose high-urgency rule calls their phone (or, ``wakes=False``, emails them)."""
    kind = "phone_contact_method" if wakes else "email_contact_method"
    return {
        "id": f"P{name.upper()}",
        "name": name.title(),
        "email": f"{name}@example.com",
        "contact_methods": [{"id": f"C{name}", "type": kind, "label": "Work", "blacklisted": False}],
        "notification_rules": [
            {
                "id": f"R{name}",
                "urgency": "high",
                "start_delay_in_minutes": 0,
                "contact_method": {"id": f"C{name}", "type": kind + "_reference"},
            }
        ],
    }


def weekly(schedule_id, names, *, since="2026-11-09T00:00:00Z", weeks=4, skip=None):
    shifts = []
    for week in range(weeks):
        start = pd.Timestamp(since) + pd.Timedelta(weeks=week)
        shifts.append((start, start + pd.Timedelta(weeks=1), names[week % len(names)]))
    if skip is not None:
        gap_start, gap_end = map(pd.Timestamp, skip)
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


def escalation_policy(policy_id, *levels):
    return {
        "id": policy_id,
        "name": policy_id,
        "escalation_rules": [
            {"escalation_delay_in_minutes": 15, "targets": [{"type": "schedule_reference", "id": s}]} for s in levels
        ],
    }


def workflow(responders=({"id": "PE9", "type": "escalation_policy"},), *, enabled=True, as_text=False):
    """WF1: a status update, then an "Add Responders" step (its references as objects, or as JSON text each)."""
    references = [json.dumps(r) for r in responders] if as_text else list(responders)
    return {
        "id": "WF1",
        "name": "Major incident",
        "is_enabled": enabled,
        "steps": [
            {"id": "S1", "name": "Status", "action_configuration": {"action_id": "pagerduty.com:x:status:1"}},
            {
                "id": "S2",
                "name": "Add Responders",
                "action_configuration": {
                    "action_id": ADD_RESPONDERS,
                    "inputs": [
                        {"name": "Responders", "value": json.dumps(references)},
                        {"name": "Message", "value": "x"},
                    ],
                },
            },
        ],
    }


def trigger(condition="incident.priority matches 'P1'", *, services=("PV1",), all_services=False, kind="conditional"):
    return {
        "id": "T1",
        "trigger_type": kind,
        "condition": condition,
        "workflow_id": "WF1",
        "is_subscribed_to_all_services": all_services,
        "services": [{"id": s, "type": "service"} for s in services],
    }


def reads(*, workflows=None, triggers=None, unreadable=()):
    found = WorkflowReads()
    found.priorities = [{"id": "PP1", "name": "P1"}, {"id": "PP2", "name": "P2"}]
    found.workflows = [workflow()] if workflows is None else workflows
    found.triggers = [trigger()] if triggers is None else triggers
    found.unreadable = [{"collection": path, "status": status, "reason": why} for path, status, why in unreadable]
    return found


def audit(*, users=None, shifts=None, groups=None, workflows=None, registry_services=None, policies=None):
    people = [*TEAM, *COMMANDERS, "mgr"]
    facts = normalise(
        users=users or [user(name) for name in people],
        schedules=[
            {"id": "PS1", "name": "Pay primary", "time_zone": "UTC", "schedule_layers": []},
            {"id": "PS9", "name": "Commanders", "time_zone": "UTC", "schedule_layers": []},
        ],
        services=[{"id": "PV1", "escalation_policy": {"id": "PE1"}}, {"id": "PV2", "escalation_policy": {"id": "PE1"}}],
        policies=policies or [escalation_policy("PE1", "PS1"), escalation_policy("PE9", "PS9")],
        shifts=shifts if shifts is not None else weekly("PS1", list(TEAM)) + weekly("PS9", list(COMMANDERS)),
        workflows=workflows or reads(),
    )
    tree = groups or {"org": (None, "PS9"), "dept": ("org", None), "pay": ("dept", None)}
    facts["registry_teams"] = pd.DataFrame(
        [{"team": team, "parent": parent, "incident_commander_schedule": ics} for team, (parent, ics) in tree.items()]
    )
    facts["registry_services"] = pd.DataFrame(
        registry_services or [{"team": "pay", "service": "pay-api", "pagerduty_service_id": "PV1"}]
    ).assign(lifecycle="production")
    facts["registry_team_schedules"] = pd.DataFrame({"team": ["pay"], "schedule_id": ["PS1"], "source": "pagerduty"})
    members = [(n, "pay") for n in TEAM] + [(n, None) for n in (*COMMANDERS, "mgr")]
    facts["registry_people"] = pd.DataFrame(
        [{"person": n, "display_name": n.title(), "email": f"{n}@example.com", "team": t} for n, t in members]
    )
    facts["registry_thresholds"] = pd.DataFrame(columns=["team", "check_id", "key", "value"])
    results, findings = evaluate_checks(
        audit_instant=INSTANT, facts=with_oncall_facts(facts), unavailable={}, catalogue=ONLY
    )
    return results.set_index("team").loc["pay"], findings.set_index("subject")


# --- the commander schedule: where it comes from ----------------------------------------------


def test_commanders_on_call_and_reachable_brought_in_by_a_p1_workflow_pass():
    result, findings = audit()
    assert result["status"] == "pass", result["reason"]
    assert "next 14 days" in result["reason"]
    assert findings.at["schedule:PS9", "outcome"] == "pass"
    assert findings.at["service:pay-api", "message"] == (
        "pay-api: incident workflow \"Major incident\" adds Commanders when incident.priority matches 'P1'"
    )


def test_no_commander_schedule_anywhere_up_the_tree_fails_naming_the_group():
    result, findings = audit(groups={"org": (None, None), "dept": ("org", None), "pay": ("dept", None)})
    assert result["status"] == "fail"
    assert findings.at["group:pay", "message"] == (
        "No incident commanders: neither pay nor a group above it names a schedule "
        "(readiness/incident-commander-schedule)"
    )


def test_the_nearest_group_that_names_a_schedule_decides():
    # dept names a schedule PagerDuty lacks: it wins over org's, and so the team fails.
    result, findings = audit(groups={"org": (None, "PS9"), "dept": ("org", "PSNONE"), "pay": ("dept", None)})
    assert result["status"] == "fail"
    assert findings.at["schedule:PSNONE", "message"] == (
        "The incident-commander schedule PSNONE that dept names does not exist in PagerDuty"
    )
    # and the team's own annotation wins over both
    result, _ = audit(groups={"org": (None, "PSNONE"), "dept": ("org", "PSNONE"), "pay": ("dept", "PS9")})
    assert result["status"] == "pass", result["reason"]


# --- coverage and reachability, as escalation-path judges a first level ----------------------


def test_a_moment_without_a_commander_fails_naming_the_window():
    gap = ("2026-11-21T18:00:00Z", "2026-11-23T09:00:00Z")
    shifts = weekly("PS1", list(TEAM)) + weekly("PS9", list(COMMANDERS), skip=gap)
    result, findings = audit(shifts=shifts)
    assert result["status"] == "fail"
    assert findings.at["schedule:PS9", "message"] == (
        "Nobody is on call in Commanders from 2026-11-21 18:00 to 2026-11-23 09:00 UTC"
    )


def test_a_commander_who_cannot_be_woken_fails_naming_the_person():
    users = [user(n) for n in (*TEAM, "ivy", "mgr")] + [user("jo", wakes=False)]
    result, findings = audit(users=users)
    assert result["status"] == "fail"
    message = findings.at["person:jo", "message"]
    assert message == (
        "Nobody on call in Commanders can be woken from 2026-11-16 00:00 to 2026-11-23 00:00 UTC: "
        "Jo has no high-urgency notification rule that calls, texts or pushes"
    )


def test_a_commander_on_call_for_their_own_team_at_the_same_time_warns():
    # Bob is in pay's rotation (his week: 11-16 .. 11-23) and commands that same week.
    shifts = weekly("PS1", list(TEAM)) + weekly("PS9", ["ivy", "bob"])
    result, findings = audit(shifts=shifts)
    assert result["status"] == "warn"
    assert findings.at["person:bob", "message"] == (
        "Bob commands in Commanders from 2026-11-16 00:00 to 2026-11-23 00:00 UTC while on call in Pay primary "
        "for their own team: a commander must not be on call for their team at the same time"
    )


def test_a_commander_on_call_for_their_team_in_other_weeks_only_passes():
    # Cat commands 11-16 .. 11-23 and from 11-30 (the window's end); her own turn is 11-23 .. 11-30.
    shifts = weekly("PS1", list(TEAM)) + weekly("PS9", ["ivy", "cat"])
    result, _ = audit(shifts=shifts)
    assert result["status"] == "pass", result["reason"]


# --- the way in: incident workflows and their triggers ----------------------------------------


def test_a_service_no_trigger_covers_warns_naming_it():
    result, findings = audit(workflows=reads(triggers=[trigger(services=("PV2",))]))
    assert result["status"] == "warn"
    assert findings.at["service:pay-api", "message"] == (
        "No enabled incident workflow brings Commanders into a major incident of pay-api: none starts on the top "
        "priority (P1) or on every high-urgency incident and adds the commanders (or an escalation policy that "
        "starts with them) as responders"
    )


def test_a_high_urgency_trigger_on_all_services_adding_the_schedule_itself_passes():
    found = reads(
        workflows=[workflow(({"id": "PS9", "type": "schedule_reference"},), as_text=True)],
        triggers=[trigger("incident.urgency matches 'high'", services=(), all_services=True)],
    )
    result, findings = audit(workflows=found)
    assert result["status"] == "pass", result["reason"]
    assert "incident.urgency matches 'high'" in findings.at["service:pay-api", "message"]


@pytest.mark.parametrize(
    "found",
    [
        pytest.param(reads(workflows=[workflow(enabled=False)]), id="workflow disabled"),
        pytest.param(reads(triggers=[{**trigger(), "is_disabled": True}]), id="trigger disabled"),
        pytest.param(reads(triggers=[trigger(None, kind="manual")]), id="manual trigger"),
        pytest.param(reads(triggers=[trigger("incident.priority matches 'P2'")]), id="not the top priority"),
        pytest.param(
            reads(triggers=[trigger("incident.priority matches 'P1' and incident.urgency matches 'high'")]),
            id="narrower than every P1",
        ),
        pytest.param(reads(workflows=[workflow(({"id": "PE1", "type": "escalation_policy"},))]), id="other policy"),
        pytest.param(reads(workflows=[{**workflow(), "steps": []}]), id="no responders step"),
    ],
)
def test_a_trigger_that_does_not_bring_the_commanders_into_every_major_incident_warns(found):
    result, findings = audit(workflows=found)
    assert result["status"] == "warn", result["reason"]
    assert findings.at["service:pay-api", "outcome"] == "warn"


def test_a_policy_that_pages_the_commanders_only_at_a_later_level_does_not_count():
    policies = [escalation_policy("PE1", "PS1"), escalation_policy("PE9", "PS1", "PS9")]
    result, _ = audit(policies=policies)
    assert result["status"] == "warn"


def test_a_service_without_a_pagerduty_service_warns():
    services = [{"team": "pay", "service": "pay-media", "pagerduty_service_id": None}]
    result, findings = audit(registry_services=services)
    assert result["status"] == "warn"
    assert findings.at["service:pay-media", "message"] == (
        "pay-media has no PagerDuty service: no incident workflow can bring Commanders in"
    )


# --- unknown: what PagerDuty would not give ---------------------------------------------------

PLAN_WITHOUT_WORKFLOWS = (
    "/incident_workflows",
    402,
    "the PagerDuty account's plan does not include incident workflows (402 Payment Required)",
)


def test_an_account_without_incident_workflows_is_unknown_with_the_reason_never_a_pass():
    found = reads(workflows=[], triggers=[], unreadable=[PLAN_WITHOUT_WORKFLOWS])
    result, findings = audit(workflows=found)
    assert result["status"] == "unknown"
    assert result["reason"] == (
        "Whether an incident workflow brings the commanders into a major incident is unknown: the PagerDuty "
        "account's plan does not include incident workflows (402 Payment Required)."
    )
    assert "service:pay-api" not in findings.index  # no finding of absence


def test_unknown_workflows_never_hide_a_commander_gap():
    gap = ("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")
    shifts = weekly("PS1", list(TEAM)) + weekly("PS9", list(COMMANDERS), skip=gap)
    found = reads(workflows=[], triggers=[], unreadable=[PLAN_WITHOUT_WORKFLOWS])
    result, _ = audit(shifts=shifts, workflows=found)
    assert result["status"] == "fail"


def test_unreadable_priorities_make_a_priority_trigger_unknown_but_not_an_urgency_one():
    refused = ("/priorities", 403, "the API key may not read priorities (403 Forbidden)")
    result, _ = audit(workflows=reads(unreadable=[refused]))
    assert result["status"] == "unknown"
    assert "403 Forbidden" in result["reason"]
    urgency = reads(triggers=[trigger("incident.urgency matches 'high'")], unreadable=[refused])
    result, _ = audit(workflows=urgency)
    assert result["status"] == "pass", result["reason"]


# --- PCL conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition, starts",
    [
        (None, True),
        ("", True),
        ("incident.priority matches 'P1'", True),
        ('incident.priority matches "p1"', True),
        ("incident.urgency matches 'high'", True),
        ("(incident.priority matches 'P1') or (incident.priority matches 'P2')", True),
        ("incident.priority matches 'P2' or incident.urgency matches 'high'", True),
        ("incident.priority matches 'P2'", False),
        ("incident.urgency matches 'low'", False),
        ("incident.priority matches 'P1' and incident.urgency matches 'high'", False),
        ("(incident.priority matches 'P1' and incident.title matches part 'db')", False),
        ("incident.title matches part 'or incident.urgency matches'", False),
    ],
)
def test_which_conditions_start_a_workflow_for_every_major_incident(condition, starts):
    # PagerDuty's PCL is read into the on-call facts' trigger columns; the check decides from those.
    triggers = frame(
        "pagerduty_workflow_triggers", [{"trigger_id": "T1", "trigger_type": "conditional", "condition": condition}]
    )
    neutral = next(records(oncall_facts_of_triggers(triggers)))
    assert _starts_for_every_major(neutral, "P1", priorities_unread=False) is starts


def test_unknown_workflows_never_hide_a_service_no_workflow_can_cover():
    services = [
        {"team": "pay", "service": "pay-api", "pagerduty_service_id": "PV1"},
        {"team": "pay", "service": "pay-media", "pagerduty_service_id": None},
    ]
    found = reads(workflows=[], triggers=[], unreadable=[PLAN_WITHOUT_WORKFLOWS])
    result, findings = audit(registry_services=services, workflows=found)
    assert result["status"] == "warn"
    assert findings.at["service:pay-media", "outcome"] == "warn"
    assert findings.at["pagerduty:incident_workflows", "outcome"] == "unknown"
