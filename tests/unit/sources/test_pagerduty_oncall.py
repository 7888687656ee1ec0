"""PagerDuty's facts as the platform-neutral on-call facts: what the on-call checks see of a PagerDuty account."""

from __future__ import annotations

import pandas as pd

from oncall_readiness import oncall_facts
from oncall_readiness.sources.pagerduty import normalise, oncall_facts_of
from oncall_readiness.sources.pagerduty.facts import frame
from oncall_readiness.sources.pagerduty.workflows import WorkflowReads

ANN = {
    "id": "PANN",
    "name": "Ann",
    "email": " Ann@Example.com ",
    "time_zone": "Europe/London",
    "contact_methods": [
        {"id": "CPHONE", "type": "phone_contact_method", "blacklisted": False},
        {"id": "CSMS", "type": "sms_contact_method", "blacklisted": True},
    ],
    "notification_rules": [
        {
            "id": "R1",
            "urgency": "high",
            "start_delay_in_minutes": 0,
            "contact_method": {"id": "CPHONE", "type": "phone_contact_method_reference"},
        },
        {
            "id": "R2",
            "urgency": "high",
            "start_delay_in_minutes": 1,
            "contact_method": {"id": "CSMS", "type": "sms_contact_method_reference"},
        },
        {
            "id": "R3",
            "urgency": "low",
            "start_delay_in_minutes": 0,
            "contact_method": {"id": "CGONE", "type": "email_contact_method_reference"},
        },
    ],
}
POLICY = {
    "id": "PE1",
    "name": "Pay",
    "num_loops": 1,
    "escalation_rules": [
        {"escalation_delay_in_minutes": 15, "targets": [{"id": "PS1", "type": "schedule_reference"}]},
        {"escalation_delay_in_minutes": 30, "targets": [{"id": "PANN", "type": "user_reference"}]},
    ],
}


def registry(platforms=("pagerduty", "jsm_ops")):
    return {
        "registry_teams": pd.DataFrame({"team": ["pay", "search"], "oncall_platform": list(platforms)}),
        "registry_team_schedules": pd.DataFrame({"team": ["pay"], "schedule_id": ["PS1"], "source": ["pagerduty"]}),
        "registry_services": pd.DataFrame(
            {
                "service": ["pay-api", "search-api", "orphan"],
                "team": ["pay", "search", None],
                "pagerduty_service_id": ["PV1", None, "PV9"],
            }
        ),
    }


def neutral(**reads):
    facts = normalise(users=[ANN], schedules=[], services=[], policies=[POLICY], shifts=[], **reads)
    return oncall_facts_of({**facts, **registry()})


def test_every_table_is_given_with_its_columns_and_the_platform():
    facts = neutral()
    assert set(facts) == set(oncall_facts.FACT_COLUMNS) - {"oncall_notifications"}
    for table, columns in facts.items():
        assert list(columns.columns) == list(oncall_facts.FACT_COLUMNS[table]), table
        assert set(columns["platform"]) <= {"pagerduty"}, table


def test_a_rule_is_deliverable_only_to_a_contact_method_pagerduty_delivers_to():
    rules = neutral()["oncall_notification_rules"].set_index("rule_id")
    assert rules["deliverable"].to_dict() == {"R1": True, "R2": False, "R3": False}  # blocked; not the user's
    assert rules.at["R1", "contact_method_type"] == "phone"
    assert rules.at["R2", "start_delay_minutes"] == 1
    assert neutral()["oncall_users"].at[0, "email"] == "ann@example.com"


def test_levels_name_their_targets_without_reference_and_keep_their_delays():
    levels = neutral()["oncall_escalation_levels"]
    assert levels[["level", "delay_minutes", "target_type", "target_id"]].values.tolist() == [
        [1, 15, "schedule", "PS1"],
        [2, 30, "user", "PANN"],
    ]


def test_only_the_teams_on_pagerduty_and_their_services_are_linked():
    facts = neutral()
    assert facts["oncall_team_schedules"][["team", "schedule_id"]].values.tolist() == [["pay", "PS1"]]
    links = facts["oncall_service_links"]
    assert links[["service", "service_id"]].values.tolist() == [["pay-api", "PV1"], ["orphan", "PV9"]]


def test_a_workflow_triggers_pcl_becomes_when_it_starts_by_itself():
    either = "incident.priority matches 'P1' or incident.urgency matches 'high'"
    raw = frame(
        "pagerduty_workflow_triggers",
        [
            {
                "trigger_id": "T1",
                "workflow_id": "W1",
                "trigger_type": "conditional",
                "condition": either,
                "all_services": True,
                "is_disabled": False,
            },
            {
                "trigger_id": "T2",
                "workflow_id": "W1",
                "trigger_type": "manual",
                "condition": None,
                "all_services": True,
                "is_disabled": True,
            },
        ],
    )
    facts = oncall_facts_of({"pagerduty_workflow_triggers": raw, **registry()})
    rows = facts["oncall_workflow_triggers"].set_index("trigger_id")
    assert rows.loc["T1", ["every_incident", "high_urgency", "priorities", "is_enabled"]].tolist() == [
        False,
        True,
        "P1",
        True,
    ]
    assert rows.loc["T2", ["every_incident", "high_urgency", "is_enabled"]].tolist() == [False, False, False]


def test_collections_pagerduty_refused_are_the_facets_they_leave_unknown():
    refused = WorkflowReads()
    refused.unreadable += [
        {"collection": "/priorities", "status": 403, "reason": "may not read priorities"},
        {"collection": "/incident_workflows/triggers", "status": 402, "reason": "no triggers"},
        {"collection": "/incident_workflows", "status": 402, "reason": "no workflows"},
    ]
    unread = neutral(workflows=refused)["oncall_unreadable"]
    assert unread[["facet", "reason"]].values.tolist() == [
        ["incident_workflows", "no workflows"],
        ["incident_workflows", "no triggers"],
        ["priorities", "may not read priorities"],
    ]
