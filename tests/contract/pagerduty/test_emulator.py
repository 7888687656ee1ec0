"""The PagerDuty REST API v2 emulator: what a client notices, and the spec's response shapes.

The account is ``fixtures/pagerduty_state.yaml``; its header explains the schedules.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from readiness_sandbox.pagerduty.app import (
    RateLimit,
    StateError,
    create_app,
    load_pagerduty_state,
    parse_state,
)
from readiness_sandbox.process import SandboxError, running_sandbox

STATE_FILE = Path(__file__).parent / "fixtures" / "pagerduty_state.yaml"
TOKEN = "test-token"
HEADERS = {
    "Authorization": f"Token token={TOKEN}",
    "Accept": "application/vnd.pagerduty+json;version=2",
}
ADA, BOB, CY, DEE, EVE = "PUADA01", "PUBOB02", "PUCYC03", "PUDEE04", "PUEVE05"
ALL_USERS = {ADA, BOB, CY, DEE, EVE}
P1_TRIGGER = "4ad696eb-bb48-422a-8bd0-6efad6befa29"


@pytest.fixture(scope="module")
def state() -> dict:
    return load_pagerduty_state(STATE_FILE)


def make_client(state: dict, *, tokens=(TOKEN,), **options) -> TestClient:
    return TestClient(create_app(state, tokens=tokens, **options), headers=HEADERS)


@pytest.fixture
def client(state) -> TestClient:
    return make_client(state)


def entries(subschedule: dict) -> list[tuple[str, str, str]]:
    return [(e["start"], e["end"], e["user"]["id"]) for e in subschedule["rendered_schedule_entries"]]


def get_schedule(client: TestClient, schedule_id: str, **params) -> dict:
    response = client.get(f"/schedules/{schedule_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["schedule"]


# --- authentication, errors, headers --------------------------------------------------------


def test_missing_token_gets_401_with_pagerduty_error_body(state):
    response = TestClient(create_app(state, tokens=[TOKEN])).get("/users")
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "Authentication failed", "code": 2006}}


@pytest.mark.parametrize("authorization", ["Token token=wrong", f"Bearer {TOKEN}", TOKEN, f"Token token={TOKEN}x"])
def test_wrong_token_gets_401(state, authorization):
    client = TestClient(create_app(state, tokens=[TOKEN]))
    response = client.get("/users", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2006


def test_right_token_is_accepted_with_or_without_accept_header(state):
    client = TestClient(create_app(state, tokens=[TOKEN]))
    assert client.get("/users", headers={"Authorization": HEADERS["Authorization"]}).status_code == 200
    assert client.get("/users", headers=HEADERS).status_code == 200


def test_other_api_version_is_not_acceptable(client):
    response = client.get("/users", headers={"Accept": "application/vnd.pagerduty+json;version=1"})
    assert response.status_code == 406
    assert response.json()["error"]["message"] == "Not Acceptable"


def test_unknown_id_and_unknown_path_get_404_body(client):
    for path in ("/users/PNOSUCH", "/schedules/PNOSUCH", "/incidents/PNOSUCH", "/no/such/path"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": {"message": "Not Found", "code": 2100}}


def test_self_urls_point_at_the_emulator(client):
    user = client.get(f"/users/{ADA}").json()["user"]
    assert user["self"] == f"http://testserver/users/{ADA}"
    assert user["teams"][0]["self"] == "http://testserver/teams/PTPAY01"


def test_users_carry_references_to_how_they_are_paged_and_the_objects_on_include(client, assert_matches_spec):
    plain = client.get(f"/users/{ADA}").json()["user"]
    assert [m["type"] for m in plain["contact_methods"]] == [
        "phone_contact_method_reference",
        "push_notification_contact_method_reference",
        "email_contact_method_reference",
        "sms_contact_method_reference",
    ]
    assert {r["type"] for r in plain["notification_rules"]} == {"assignment_notification_rule_reference"}

    params = {"include[]": ["contact_methods", "notification_rules"]}
    full = client.get(f"/users/{ADA}", params=params).json()["user"]
    phone, push, email, sms = full["contact_methods"]
    assert phone["self"] == f"http://testserver/users/{ADA}/contact_methods/PCADA01"
    assert (phone["address"], phone["blacklisted"], sms["blacklisted"], sms["enabled"]) == (
        "7700900123",
        False,
        True,
        False,
    )
    assert (push["device_type"], email["send_short_email"]) == ("ios", False)
    rules = {r["id"]: r for r in full["notification_rules"]}
    assert rules["PRADA02"]["start_delay_in_minutes"] == 5
    assert rules["PRADA02"]["urgency"] == "high"
    assert rules["PRADA02"]["contact_method"]["id"] == "PCADA01"
    assert rules["PRADA02"]["contact_method"]["type"] == "phone_contact_method_reference"
    for method, schema in zip(full["contact_methods"], SCHEMAS, strict=True):
        assert_matches_spec.component(schema, method)
    for rule in full["notification_rules"]:
        assert_matches_spec.component("NotificationRule", rule)


SCHEMAS = ["PhoneContactMethod", "PushContactMethod", "EmailContactMethod", "PhoneContactMethod"]


def test_a_notification_rule_must_name_a_contact_method_of_its_user(state):
    broken = {
        **state,
        "users": [
            {
                **state["users"][0],
                "notification_rules": [
                    {"id": "PRX", "urgency": "high", "start_delay_in_minutes": 0, "contact_method": "PCNOPE"}
                ],
            },
            *state["users"][1:],
        ],
    }
    with pytest.raises(StateError, match=r"users\[PUADA01\]\.notification_rules\[#0\].*'contact_method'.*PCNOPE"):
        parse_state(broken)


def test_injected_faults_answer_503_then_recover(state):
    client = make_client(state, fail_next=2)
    assert [client.get("/users").status_code for _ in range(3)] == [503, 503, 200]
    client.app.state.pagerduty.fail_next = 1
    response = client.get("/users")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == 2000


# --- pagination and parameters -------------------------------------------------------------


def test_walking_users_with_limit_2_visits_each_user_once(client):
    seen, pages, offset = [], [], 0
    while True:
        body = client.get("/users", params={"limit": 2, "offset": offset}).json()
        seen += [u["id"] for u in body["users"]]
        pages.append((body["limit"], body["offset"], body["more"], body["total"]))
        if not body["more"]:
            break
        offset += body["limit"]
    assert sorted(seen) == sorted(ALL_USERS)
    assert pages == [(2, 0, True, None), (2, 2, True, None), (2, 4, False, None)]


def test_total_is_counted_only_when_asked(client):
    assert client.get("/users", params={"total": "true"}).json()["total"] == 5
    assert client.get("/users").json()["total"] is None


def test_limit_above_100_is_capped(client):
    body = client.get("/users", params={"limit": 500}).json()
    assert body["limit"] == 100
    assert len(body["users"]) == 5


def test_offset_plus_limit_beyond_10000_is_refused_as_pagerduty_does(client):
    # PagerDuty's answer, as its clients quote it (e.g. cloudquery/cloudquery#12750, apache/devlake#5107).
    response = client.get("/users", params={"offset": 9950, "limit": 100})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Arguments Caused Error",
            "code": 2002,
            "errors": [
                "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search to "
                "reduce the returned set of records below this number, like adding a date range."
            ],
        }
    }
    assert client.get("/users", params={"offset": 9900, "limit": 100}).status_code == 200
    # A default limit (25) counts too.
    assert client.get("/users", params={"offset": 9980}).json()["error"]["code"] == 2002


@pytest.mark.parametrize("params", [{"limit": "ten"}, {"offset": "1.5"}, {"limit": "-1"}])
def test_non_integer_pagination_is_invalid(client, params):
    assert client.get("/users", params=params).status_code == 400


def test_team_ids_array_parameter_filters(client):
    def user_ids(query: str) -> set[str]:
        return {u["id"] for u in client.get(f"/users?{query}").json()["users"]}

    assert user_ids("team_ids[]=PTSRC02") == {DEE, EVE}
    assert user_ids("team_ids[]=PTSRC02&team_ids[]=PTPAY01") == ALL_USERS
    assert user_ids("team_ids=PTSRC02") == ALL_USERS  # only the [] form is understood, like PD
    services = client.get("/services?team_ids[]=PTPAY01").json()["services"]
    assert [s["name"] for s in services] == ["payments-api"]
    schedules = client.get("/schedules?team_ids[]=PTSRC02").json()["schedules"]
    assert [s["id"] for s in schedules] == ["PSSRC01"]


def test_users_include_teams_embeds_team_objects(client):
    plain = client.get(f"/users/{ADA}").json()["user"]["teams"]
    full = client.get(f"/users/{ADA}?include[]=teams").json()["user"]["teams"]
    assert plain[0]["type"] == "team_reference"
    assert full[0]["type"] == "team" and full[0]["description"] == "Card payments and refunds"


def test_team_members_carry_roles(client):
    members = client.get("/teams/PTPAY01/members").json()["members"]
    assert [(m["user"]["id"], m["role"]) for m in members] == [
        (ADA, "manager"),
        (BOB, "responder"),
        (CY, "responder"),
    ]


# --- rate limiting -------------------------------------------------------------------------


def test_fourth_request_over_a_limit_of_3_gets_429(state):
    client = make_client(state, rate_limit=RateLimit(3, 60))
    for remaining in (2, 1, 0):
        response = client.get("/users")
        assert response.status_code == 200
        assert response.headers["ratelimit-limit"] == "3"
        assert response.headers["ratelimit-remaining"] == str(remaining)
        assert 1 <= int(response.headers["ratelimit-reset"]) <= 60
    response = client.get("/users")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert int(response.headers["ratelimit-reset"]) >= 1
    assert response.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}


def test_rate_limit_is_per_token_and_resets_after_the_window(state):
    now = [1000.0]
    client = make_client(state, tokens=("a", "b"), rate_limit=RateLimit(1, 60), clock=lambda: now[0])

    def status(token: str) -> int:
        return client.get("/users", headers={"Authorization": f"Token token={token}"}).status_code

    assert (status("a"), status("a"), status("b")) == (200, 429, 200)
    now[0] += 59
    assert status("a") == 429
    now[0] += 1
    assert status("a") == 200


# --- schedules -----------------------------------------------------------------------------

MARCH = {"since": "2026-03-02T09:00:00Z", "until": "2026-03-30T09:00:00Z"}


def test_weekly_layer_of_three_over_28_days(client):
    layer = get_schedule(client, "PSPAY01", **MARCH)["schedule_layers"][0]
    assert entries(layer) == [
        ("2026-03-02T09:00:00Z", "2026-03-09T09:00:00Z", ADA),
        ("2026-03-09T09:00:00Z", "2026-03-16T09:00:00Z", BOB),
        ("2026-03-16T09:00:00Z", "2026-03-23T09:00:00Z", CY),
        ("2026-03-23T09:00:00Z", "2026-03-30T09:00:00Z", ADA),
    ]
    assert layer["rendered_coverage_percentage"] == 100.0


def test_final_schedule_applies_higher_layer_then_override(client):
    schedule = get_schedule(client, "PSPAY01", **MARCH)
    assert entries(schedule["final_schedule"]) == [
        ("2026-03-02T09:00:00Z", "2026-03-09T09:00:00Z", ADA),
        ("2026-03-09T09:00:00Z", "2026-03-10T00:00:00Z", BOB),
        ("2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z", DEE),  # the higher layer wins
        ("2026-03-11T00:00:00Z", "2026-03-16T09:00:00Z", BOB),
        ("2026-03-16T09:00:00Z", "2026-03-20T00:00:00Z", CY),
        ("2026-03-20T00:00:00Z", "2026-03-21T00:00:00Z", EVE),  # the override wins
        ("2026-03-21T00:00:00Z", "2026-03-23T09:00:00Z", CY),
        ("2026-03-23T09:00:00Z", "2026-03-30T09:00:00Z", ADA),
    ]
    assert schedule["final_schedule"]["name"] == "Final Schedule"
    assert entries(schedule["overrides_subschedule"]) == [("2026-03-20T00:00:00Z", "2026-03-21T00:00:00Z", EVE)]
    assert schedule["overrides_subschedule"]["rendered_coverage_percentage"] == round(100 / 28, 2)


def test_entries_are_clipped_to_since_and_until(client):
    schedule = get_schedule(client, "PSPAY01", since="2026-03-04T12:00:00Z", until="2026-03-12T00:00:00Z")
    assert entries(schedule["schedule_layers"][0]) == [
        ("2026-03-04T12:00:00Z", "2026-03-09T09:00:00Z", ADA),
        ("2026-03-09T09:00:00Z", "2026-03-12T00:00:00Z", BOB),
    ]
    assert entries(schedule["final_schedule"])[-1] == (
        "2026-03-11T00:00:00Z",
        "2026-03-12T00:00:00Z",
        BOB,
    )


def test_times_are_rendered_in_the_requested_time_zone(client):
    schedule = get_schedule(client, "PSPAY01", time_zone="America/New_York", **MARCH)
    starts = [start for start, _, _ in entries(schedule["schedule_layers"][0])]
    # New York moves to daylight time on 2026-03-08: the offset changes, the instant does not.
    assert starts[:2] == ["2026-03-02T04:00:00-05:00", "2026-03-09T05:00:00-04:00"]
    assert schedule["time_zone"] == "UTC"  # the schedule's own zone is unchanged


def test_daily_restriction_covers_only_its_hours(client):
    window = {"since": "2026-06-01T00:00:00+01:00", "until": "2026-06-03T00:00:00+01:00"}
    layer = get_schedule(client, "PSPAY02", **window)["schedule_layers"][0]
    assert entries(layer) == [
        ("2026-06-01T09:00:00+01:00", "2026-06-01T17:00:00+01:00", ADA),
        ("2026-06-02T09:00:00+01:00", "2026-06-02T17:00:00+01:00", BOB),
    ]
    assert layer["rendered_coverage_percentage"] == 33.33
    assert layer["restrictions"] == [
        {"type": "daily_restriction", "start_time_of_day": "09:00:00", "duration_seconds": 28800}
    ]


def test_weekly_restriction_covers_only_weekends(client):
    window = {"since": "2026-06-01T00:00:00+01:00", "until": "2026-06-15T00:00:00+01:00"}
    final = get_schedule(client, "PSSRC01", **window)["final_schedule"]
    assert entries(final) == [
        ("2026-06-06T00:00:00+01:00", "2026-06-08T00:00:00+01:00", DEE),
        ("2026-06-13T00:00:00+01:00", "2026-06-15T00:00:00+01:00", EVE),
    ]


def test_schedule_window_defaults_to_two_weeks_from_now(state):
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    client = make_client(state, now=lambda: now)
    final = get_schedule(client, "PSPAY01")["final_schedule"]
    assert entries(final)[0][0] == "2026-03-02T09:00:00Z"
    assert entries(final)[-1][1] == "2026-03-16T09:00:00Z"


def test_schedule_list_renders_only_what_include_asks(client):
    plain = client.get("/schedules").json()["schedules"]
    assert all("schedule_layers" not in s and "final_schedule" not in s for s in plain)
    params = {"include[]": "final_schedule", **MARCH}
    rendered = client.get("/schedules", params=params).json()["schedules"]
    by_id = {s["id"]: s for s in rendered}
    assert "schedule_layers" not in by_id["PSPAY01"]
    assert len(entries(by_id["PSPAY01"]["final_schedule"])) == 8


# --- on-calls ------------------------------------------------------------------------------


def test_oncalls_list_schedule_and_direct_user_targets(client):
    params = {
        "escalation_policy_ids[]": "PEPAY01",
        "since": "2026-03-09T12:00:00Z",
        "until": "2026-03-09T13:00:00Z",
    }
    oncalls = client.get("/oncalls", params=params).json()
    rows = [
        (o["escalation_level"], o["user"]["id"], o["schedule"] and o["schedule"]["id"], o["start"], o["end"])
        for o in oncalls["oncalls"]
    ]
    assert rows == [
        (1, BOB, "PSPAY01", "2026-03-09T09:00:00Z", "2026-03-10T00:00:00Z"),  # the whole shift
        (2, ADA, None, None, None),  # a user targeted directly is on call permanently
    ]
    assert oncalls["oncalls"][0]["escalation_policy"]["type"] == "escalation_policy_reference"


def test_oncalls_filters_and_earliest(client):
    window = "since=2026-03-02T09:00:00Z&until=2026-03-30T09:00:00Z"
    shifts = client.get(f"/oncalls?schedule_ids[]=PSPAY01&{window}&limit=100").json()["oncalls"]
    assert [o["user"]["id"] for o in shifts] == [ADA, BOB, DEE, BOB, CY, EVE, CY, ADA]
    earliest = client.get(f"/oncalls?schedule_ids[]=PSPAY01&earliest=true&{window}").json()
    assert [o["user"]["id"] for o in earliest["oncalls"]] == [ADA, BOB, DEE, CY, EVE]
    mine = client.get(f"/oncalls?user_ids[]={ADA}&{window}").json()["oncalls"]
    assert {(o["escalation_level"], o["start"]) for o in mine} == {
        (1, "2026-03-02T09:00:00Z"),
        (1, "2026-03-23T09:00:00Z"),
        (2, None),
    }


# --- incidents -----------------------------------------------------------------------------


def test_incidents_window_filters_and_six_month_limit(client):
    window = {"since": "2026-03-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}
    ids = [i["id"] for i in client.get("/incidents", params=window).json()["incidents"]]
    assert ids == ["Q0PAY001", "Q0SRC002"]
    everything = client.get("/incidents", params={"date_range": "all"}).json()["incidents"]
    assert [i["incident_number"] for i in everything] == [3, 1, 2]
    resolved = client.get("/incidents?statuses[]=resolved&date_range=all").json()["incidents"]
    assert [(i["id"], i["assignments"]) for i in resolved] == [("Q0PAY001", [])]
    too_long = {"since": "2026-01-01T00:00:00Z", "until": "2026-07-02T00:00:00Z"}
    assert client.get("/incidents", params=too_long).status_code == 400


# --- state validation ----------------------------------------------------------------------


def test_state_errors_name_section_id_and_field(state):
    broken = {**state, "schedules": [dict(state["schedules"][0])]}
    broken["schedules"][0]["layers"] = [{**state["schedules"][0]["layers"][0], "users": ["PNOBODY"]}]
    with pytest.raises(StateError, match=r"schedules\[PSPAY01\]\.layers\[PLWEEK1\].*'users'.*PNOBODY"):
        parse_state(broken)
    with pytest.raises(StateError, match=r"services\[PSVPAY1\].*'escalation_policy'"):
        parse_state({**state, "escalation_policies": [], "incidents": []})


# --- contract: responses validate against the spec -----------------------------------------

CONTRACT_CASES = [
    ("/users", "/users", {"total": "true"}),
    ("/users/{id}", f"/users/{ADA}", {}),
    ("/teams", "/teams", {}),
    ("/teams/{id}/members", "/teams/PTPAY01/members", {}),
    (
        "/schedules",
        "/schedules",
        {"include[]": ["schedule_layers", "final_schedule", "overrides_subschedule"], **MARCH},
    ),
    ("/schedules/{id}", "/schedules/PSPAY02", {"since": "2026-06-01", "until": "2026-06-08"}),
    ("/oncalls", "/oncalls", {"since": "2026-03-09T12:00:00Z", "until": "2026-03-20T12:00:00Z"}),
    ("/escalation_policies", "/escalation_policies", {}),
    ("/escalation_policies/{id}", "/escalation_policies/PEPAY01", {}),
    ("/services", "/services", {}),
    ("/services/{id}", "/services/PSVSRC1", {}),
    ("/incidents", "/incidents", {"date_range": "all"}),
    ("/incidents/{id}", "/incidents/Q0PAY001", {}),
    ("/priorities", "/priorities", {"total": "true"}),
    ("/incident_workflows", "/incident_workflows", {"include[]": ["steps", "team"], "total": "true"}),
    ("/incident_workflows/triggers", "/incident_workflows/triggers", {"limit": 2}),
    ("/incident_workflows/triggers/{id}", f"/incident_workflows/triggers/{P1_TRIGGER}", {}),
]


@pytest.mark.parametrize("spec_path, url, params", CONTRACT_CASES, ids=[c[1] for c in CONTRACT_CASES])
def test_response_matches_the_spec(client, assert_matches_spec, spec_path, url, params):
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    assert_matches_spec(spec_path, response.json())


def test_a_workflow_matches_the_spec_which_documents_its_get_as_201(client, assert_matches_spec):
    response = client.get("/incident_workflows/PWMAJ01")
    assert response.status_code == 200, response.text  # PagerDuty answers 200; the spec's GET says 201
    assert_matches_spec("/incident_workflows/{id}", response.json(), status=201)


def test_error_bodies_match_the_spec(state, assert_matches_spec):
    client, anonymous = make_client(state), TestClient(create_app(state, tokens=[TOKEN]))
    limited = make_client(state, rate_limit=RateLimit(1, 60))
    limited.get("/users")
    cases = [
        ("/users", 401, anonymous.get("/users")),
        ("/users", 400, client.get("/users", params={"limit": "x"})),
        ("/users", 429, limited.get("/users")),
        ("/users/{id}", 404, client.get("/users/PNOSUCH")),
        (
            "/incident_workflows",
            402,
            make_client({**state, "refusals": {"incident_workflows": 402}}).get("/incident_workflows"),
        ),
        (
            "/incident_workflows/triggers",
            403,
            make_client({**state, "refusals": {"incident_workflows": 403}}).get("/incident_workflows/triggers"),
        ),
        ("/priorities", 402, make_client({**state, "refusals": {"priorities": 402}}).get("/priorities")),
        ("/incident_workflows/triggers", 400, client.get("/incident_workflows/triggers", params={"cursor": "x"})),
    ]
    for spec_path, status, response in cases:
        assert response.status_code == status
        assert_matches_spec(spec_path, response.json(), status=status)


# --- the real server in a subprocess -------------------------------------------------------


def test_sandbox_subprocess_serves_pagerduty_and_stops():
    with running_sandbox(states={"pagerduty": STATE_FILE}, token="subprocess-token") as sandbox:
        response = requests.get(
            f"{sandbox.url('pagerduty')}/users",
            headers={"Authorization": "Token token=subprocess-token"},
            timeout=10,
        )
        assert response.status_code == 200
        assert {u["id"] for u in response.json()["users"]} == ALL_USERS
        assert response.json()["users"][0]["self"].startswith(f"{sandbox.base_url}/pagerduty/users/")
        pid = sandbox.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_sandbox_subprocess_reports_a_bad_state(tmp_path):
    bad = tmp_path / "pagerduty.yaml"
    bad.write_text("users:\n  - {id: PX, email: x@example.com}\n", encoding="utf-8")
    with (
        pytest.raises(SandboxError, match=r"users\[PX\].*'name'.*required"),
        running_sandbox(states={"pagerduty": bad}),
    ):
        pass
