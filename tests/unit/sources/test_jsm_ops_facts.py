"""JSM Operations' reads as facts: escalation delays counted from the alert, interruptions as PagerDuty defines them."""

from __future__ import annotations

import pandas as pd

from oncall_readiness.sources.jsm_ops import JsmRead, normalise
from oncall_readiness.sources.window import AuditWindow

TEAM = "team-1"
INSTANT = pd.Timestamp("2026-11-16T00:00:00Z")
WINDOW = AuditWindow(instant=INSTANT, look_back_days=28, look_ahead_days=14)
REGISTRY = {
    "registry_teams": pd.DataFrame({"team": ["identity"], "jsm_ops_team": [TEAM], "oncall_platform": ["jsm_ops"]}),
    "registry_services": pd.DataFrame({"service": ["identity-auth"], "team": ["identity"]}),
}
LONDON = {
    "accountId": "u1",
    "displayName": "Oliver Bennett",
    "emailAddress": "Oliver.Bennett@example.com",
    "timeZone": "Europe/London",
}
CHICAGO = {
    "accountId": "u2",
    "displayName": "Ethan Brooks",
    "emailAddress": "ethan.brooks@example.com",
    "timeZone": "America/Chicago",
}


def sent(at: str, method: str, email: str = "oliver.bennett@example.com") -> dict:
    return {
        "logTime": at,
        "logType": "system",
        "log": f"Sent [{method}] notification to [{email}] successfully",
        "owner": "System",
    }


def reading(**changes) -> JsmRead:
    read = JsmRead(teams={TEAM: "Identity"}, users=[LONDON, CHICAGO], escalations={TEAM: []}, routing_rules={TEAM: []})
    for name, value in changes.items():
        setattr(read, name, value)
    return read


def alert(ident: str, created: str, priority: str = "P2", entity: str = "identity-auth") -> dict:
    return {
        "id": ident,
        "createdAt": created,
        "priority": priority,
        "entity": entity,
        "responders": [{"type": "team", "id": TEAM}],
    }


def test_escalation_delays_counted_from_the_alert_become_each_levels_wait():
    escalation = {
        "id": "e1",
        "name": "Identity",
        "rules": [
            {"delay": 15, "notifyType": "default", "recipient": {"type": "user", "id": "u1"}},
            {"delay": 0, "notifyType": "default", "recipient": {"type": "schedule", "id": "s1"}},
            {"delay": 40, "notifyType": "next", "recipient": {"type": "schedule", "id": "s1"}},
        ],
        "repeat": {"waitInterval": 20, "count": 2},
    }
    rules = [{"id": "r1", "isDefault": True, "notify": {"type": "escalation", "id": "e1"}}]
    levels = normalise(reading(escalations={TEAM: [escalation]}, routing_rules={TEAM: rules}), REGISTRY, WINDOW)[
        "jsm_ops_escalation_levels"
    ]
    assert levels[["level", "delay_minutes", "target_type"]].values.tolist() == [
        [1, 15, "schedule"],  # at once, then 15 minutes before the manager
        [2, 25, "user"],
        [3, 20, "schedule:next"],  # "next on call" is not who is on call: JSM's words, not followed
    ]
    assert set(levels["num_loops"]) == {2}
    services = normalise(reading(escalations={TEAM: [escalation]}, routing_rules={TEAM: rules}), REGISTRY, WINDOW)
    assert dict(
        zip(
            services["jsm_ops_services"]["service_id"],
            services["jsm_ops_services"]["escalation_policy_id"],
            strict=True,
        )
    ) == {
        TEAM: "e1",
        f"{TEAM}:identity-auth": "e1",
    }


def test_interruptions_are_calls_sms_and_pushes_twice_within_a_minute_once_in_the_persons_zone():
    logs = {
        # Tue 2026-11-03 01:50 GMT: sleep; a push 30 s later is the same interruption
        "a1": [sent("2026-11-03T01:50:00Z", "Voice"), sent("2026-11-03T01:50:30Z", "Mobile")],
        # Wed 19:30 GMT: a weekday evening, off hours; an email interrupts nobody
        "a2": [sent("2026-11-04T19:30:00Z", "SMS"), sent("2026-11-04T19:35:00Z", "Email")],
        # Thu 13:00 UTC is 07:00 in Chicago: sleep for Ethan, business hours nowhere
        "a3": [sent("2026-11-05T13:00:00Z", "Voice", "ethan.brooks@example.com")],
    }
    alerts = [
        alert("a1", "2026-11-03T01:50:00Z"),
        alert("a2", "2026-11-04T19:30:00Z"),
        alert("a3", "2026-11-05T13:00:00Z"),
    ]
    facts = normalise(reading(alerts=alerts, alert_logs=logs), REGISTRY, WINDOW)
    weeks = facts["jsm_ops_responder_weeks"].set_index("user_id")
    oliver, ethan = weeks.loc["u1"], weeks.loc["u2"]
    assert (oliver.sleep_hour_interruptions, oliver.off_hour_interruptions, oliver.total_interruptions) == (1, 1, 2)
    assert oliver.total_notifications == 4 and oliver.incident_count == 2
    assert (ethan.sleep_hour_interruptions, ethan.business_hour_interruptions) == (1, 0)
    assert str(oliver.week_start) == "2026-11-02 00:00:00+00:00"  # weeks counted back from the audit instant
    incidents = facts["jsm_ops_incidents"].set_index("incident_id")
    assert (
        incidents.loc["a1", "service_id"] == f"{TEAM}:identity-auth"
        and incidents.loc["a1", "assigned_user_ids"] == "u1"
    )
    assert facts["jsm_ops_users"].set_index("user_id").loc["u1", "email"] == "oliver.bennett@example.com"


def test_a_notification_log_not_understood_makes_interruptions_unreadable_not_zero():
    logs = {
        "a1": [{"logTime": "2026-11-03T01:50:00Z", "log": "Sent notification via carrier pigeon", "owner": "System"}]
    }
    facts = normalise(reading(alerts=[alert("a1", "2026-11-03T01:50:00Z")], alert_logs=logs), REGISTRY, WINDOW)
    assert "interruptions" in set(facts["jsm_ops_unreadable"]["facet"])


def test_priorities_p4_and_p5_are_low_urgency_and_only_the_callers_rules_are_facts():
    rules = [
        {
            "id": "n1",
            "actionType": "create-alert",
            "enabled": True,
            "steps": [{"id": "s", "sendAfter": 2, "contact": {"method": "voice", "to": "+44"}, "enabled": True}],
        }
    ]
    facts = normalise(
        reading(
            alerts=[alert("a1", "2026-11-10T10:00:00Z", "P4")],
            caller_rules=rules,
            caller_email="ethan.brooks@example.com",
        ),
        REGISTRY,
        WINDOW,
    )
    assert facts["jsm_ops_incidents"]["urgency"].tolist() == ["low"]
    assert facts["jsm_ops_notification_rules"][
        ["user_id", "contact_method_type", "start_delay_minutes"]
    ].values.tolist() == [["u2", "phone", 2]]
