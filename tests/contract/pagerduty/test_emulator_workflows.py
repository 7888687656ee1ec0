"""Priorities and incident workflows: the emulator as PagerDuty's spec describes them, and the client on it.

The account is ``fixtures/pagerduty_state.yaml``: priorities P1..P3, the workflow "Major incident"
(PWMAJ01, adds the payments policy PEPAY01) with a P1 trigger for payments-api and a manual one
on all services, and a disabled workflow (PWOLD02) with a high-urgency trigger for search-api.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from oncall_readiness.sources.pagerduty import PagerDutyClient, collect
from oncall_readiness.sources.window import AuditWindow
from readiness_sandbox.in_thread import serving_in_thread as serving
from readiness_sandbox.pagerduty.app import StateError, create_app, load_pagerduty_state, parse_state

STATE_FILE = Path(__file__).parent / "fixtures" / "pagerduty_state.yaml"
TOKEN = "test-token"
HEADERS = {"Authorization": f"Token token={TOKEN}", "Accept": "application/vnd.pagerduty+json;version=2"}
P1_TRIGGER, MANUAL, RETIRED = (
    "4ad696eb-bb48-422a-8bd0-6efad6befa29",
    "7c1c8d1e-0f5b-4c8e-9a51-2f3d7e9b0a11",
    "9e2f4a6b-3c1d-4e8f-b7a9-5d6c8e0f1a22",
)
WINDOW = AuditWindow(pd.Timestamp("2026-06-15T00:00:00Z"), look_back_days=7, look_ahead_days=14)


@pytest.fixture(scope="module")
def state() -> dict:
    return load_pagerduty_state(STATE_FILE)


def client_of(state: dict, **changes) -> TestClient:
    return TestClient(create_app({**state, **changes}, tokens=[TOKEN]), headers=HEADERS)


def trigger_ids(client: TestClient, **params) -> list[str]:
    response = client.get("/incident_workflows/triggers", params=params)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["triggers"]]


def test_priorities_are_listed_most_severe_first_with_the_ids_incidents_carry(state):
    client = client_of(state)
    priorities = client.get("/priorities").json()["priorities"]
    assert [p["name"] for p in priorities] == ["P1", "P2", "P3"]
    incident = client.get("/incidents/Q0PAY001").json()["incident"]
    assert incident["priority"] is None or incident["priority"]["id"] in {p["id"] for p in priorities}


def test_workflow_steps_come_only_when_include_asks_for_them(state):
    client = client_of(state)
    bare = client.get("/incident_workflows").json()["incident_workflows"]
    assert [w["id"] for w in bare] == ["PWMAJ01", "PWOLD02"] and all("steps" not in w for w in bare)
    (major, retired) = client.get("/incident_workflows", params={"include[]": "steps"}).json()["incident_workflows"]
    add = major["steps"][1]["action_configuration"]
    assert add["action_id"] == "pagerduty.com:incident-workflows:add-responders:2"
    assert json.loads(add["inputs"][0]["value"]) == [{"id": "PEPAY01", "type": "escalation_policy"}]
    assert retired["is_enabled"] is False
    one = client.get("/incident_workflows/PWMAJ01").json()["incident_workflow"]
    assert len(one["steps"]) == 2 and one["team"] == {"id": "PTPAY01", "type": "team_reference"}
    assert client.get("/incident_workflows/PNOSUCH").status_code == 404


def test_triggers_walk_by_cursor_each_once(state):
    client = client_of(state)
    seen, cursor = [], None
    while True:
        page = client.get("/incident_workflows/triggers", params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        body = page.json()
        seen += [t["id"] for t in body["triggers"]]
        cursor = body["next_cursor"]
        assert body["more"] is (cursor is not None)
        if cursor is None:
            break
    assert seen == [P1_TRIGGER, MANUAL, RETIRED]
    assert client.get("/incident_workflows/triggers", params={"cursor": "not-ours"}).status_code == 400


def test_trigger_filters_as_the_spec_describes(state):
    client = client_of(state)
    # A trigger on all services is one of every service's.
    assert trigger_ids(client, service_id="PSVPAY1") == [P1_TRIGGER, MANUAL]
    assert trigger_ids(client, incident_id="Q0SRC002") == [MANUAL, RETIRED]  # the incident's service
    assert trigger_ids(client, workflow_id="PWOLD02") == [RETIRED]
    assert trigger_ids(client, trigger_type="manual") == [MANUAL]
    assert trigger_ids(client, is_disabled="true") == [RETIRED]
    assert trigger_ids(client, sort_by="workflow_name desc") == [RETIRED, P1_TRIGGER, MANUAL]
    both = client.get("/incident_workflows/triggers", params={"service_id": "PSVPAY1", "incident_id": "Q0PAY001"})
    assert both.status_code == 400


def test_a_trigger_carries_its_condition_services_and_the_workflow_state(state):
    client = client_of(state)
    p1 = client.get(f"/incident_workflows/triggers/{P1_TRIGGER}").json()["trigger"]
    assert (p1["condition"], p1["trigger_type"], p1["workflow_id"]) == (
        "incident.priority matches 'P1'",
        "conditional",
        "PWMAJ01",
    )
    assert [s["id"] for s in p1["services"]] == ["PSVPAY1"] and p1["is_subscribed_to_all_services"] is False
    manual = client.get(f"/incident_workflows/triggers/{MANUAL}").json()["trigger"]
    assert "condition" not in manual and manual["is_subscribed_to_all_services"] is True
    assert client.get(f"/incident_workflows/triggers/{RETIRED}").json()["trigger"]["is_disabled"] is True


@pytest.mark.parametrize("status", [402, 403])
def test_an_account_without_the_feature_is_refused_on_every_path_of_it(state, status):
    client = client_of(state, refusals={"incident_workflows": status})
    for path in ("/incident_workflows", "/incident_workflows/PWMAJ01", "/incident_workflows/triggers"):
        response = client.get(path)
        assert response.status_code == status
        assert response.json()["error"]["code"] == (2015 if status == 402 else 2010)
    assert client.get("/priorities").status_code == 200  # priorities are their own feature


def test_workflow_state_errors_name_section_id_and_field(state):
    with pytest.raises(StateError, match=r"incident_workflow_triggers\[T9\].*'workflow'.*unknown incident workflow"):
        parse_state(
            {**state, "incident_workflow_triggers": [{"id": "T9", "workflow": "PWNONE", "trigger_type": "manual"}]}
        )
    with pytest.raises(StateError, match=r"incident_workflow_triggers\[T9\].*'condition'"):
        bad = {
            "id": "T9",
            "workflow": "PWMAJ01",
            "trigger_type": "manual",
            "condition": "incident.urgency matches 'high'",
        }
        parse_state({**state, "incident_workflow_triggers": [bad]})
    with pytest.raises(StateError, match=r"refusals.*'incident_workflows'.*402, 403"):
        parse_state({**state, "refusals": {"incident_workflows": 500}})


# --- the client: the three reads in the one collect -------------------------------------------


def collect_with_commanders(state: dict) -> tuple[dict[str, pd.DataFrame], PagerDutyClient]:
    with serving(create_app(state, tokens=[TOKEN])) as url:
        client = PagerDutyClient(TOKEN, base_url=url)
        return collect(client, WINDOW, ["PSPAY01"], commander_schedule_ids=["PSSRC01"]), client


def test_the_collect_reads_priorities_workflows_and_triggers_once_each(state):
    facts, client = collect_with_commanders(state)
    # users, schedules, services, policies, /oncalls (the commanders' schedule with the team's); 3 reads
    assert client.requests_made == 5 + 3
    assert set(facts["pagerduty_oncall_shifts"]["schedule_id"]) == {"PSPAY01", "PSSRC01"}
    assert list(facts["pagerduty_priorities"]["name"]) == ["P1", "P2", "P3"]
    assert facts["pagerduty_incident_workflows"].set_index("workflow_id")["is_enabled"].to_dict() == {
        "PWMAJ01": True,
        "PWOLD02": False,
    }
    responders = facts["pagerduty_workflow_responders"]
    assert list(zip(responders["workflow_id"], responders["target_id"], strict=True)) == [
        ("PWMAJ01", "PEPAY01"),
        ("PWOLD02", "PESRC02"),
    ]
    triggers = facts["pagerduty_workflow_triggers"].set_index("trigger_id")
    assert triggers.at[P1_TRIGGER, "service_id"] == "PSVPAY1" and triggers.at[MANUAL, "all_services"]
    assert triggers.at[RETIRED, "is_disabled"] and facts["pagerduty_unreadable"].empty


def test_a_plan_without_incident_workflows_is_recorded_as_unreadable_and_the_rest_stands(state):
    facts, _ = collect_with_commanders({**state, "refusals": {"incident_workflows": 402}})
    unreadable = facts["pagerduty_unreadable"].set_index("collection")
    assert list(unreadable.index) == ["/incident_workflows", "/incident_workflows/triggers"]
    assert unreadable.at["/incident_workflows", "status"] == 402
    assert unreadable.at["/incident_workflows", "reason"] == (
        "the PagerDuty account's plan does not include incident workflows (402 Payment Required)"
    )
    assert facts["pagerduty_incident_workflows"].empty and len(facts["pagerduty_priorities"]) == 3
    assert not facts["pagerduty_users"].empty


def test_without_commander_schedules_nothing_more_is_read(state):
    with serving(create_app(state, tokens=[TOKEN])) as url:
        client = PagerDutyClient(TOKEN, base_url=url)
        facts = collect(client, WINDOW, ["PSPAY01"])
    assert client.requests_made == 5 and facts["pagerduty_incident_workflows"].empty
