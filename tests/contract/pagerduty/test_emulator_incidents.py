"""The emulator's incident data: Analytics (raw incidents, responder metrics), the incidents list, notes.

The account is ``fixtures/pagerduty_state.yaml`` with the incidents below instead of its own:
each one isolates a rule of PagerDuty's interruption definitions. Users: Ada and Bob in
Europe/London (GMT in early March), Dee in America/New_York (EDT from 2026-03-08). The
emulator's "now" is 2026-03-31T12:00Z, so analytics knows incidents created before
2026-03-30T12:00Z.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from readiness_sandbox.pagerduty.app import StateError, create_app, load_pagerduty_state, parse_state

STATE_FILE = Path(__file__).parent / "fixtures" / "pagerduty_state.yaml"
TOKEN = "test-token"
HEADERS = {"Authorization": f"Token token={TOKEN}", "Accept": "application/vnd.pagerduty+json;version=2"}
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
ADA, BOB, DEE = "PUADA01", "PUBOB02", "PUDEE04"
RAW, RESPONDERS = "/analytics/raw/incidents", "/analytics/metrics/responders/all"

INCIDENTS = yaml.safe_load(
    """
# Tue 10:00 GMT, business hours: email does not interrupt; the phone 20 s after the push is
# the same interruption (60 s); the phone 5 min later is another one.
- {id: QDEDUPE, incident_number: 1, title: Dedupe and email, service: PSVPAY1, status: resolved, urgency: high,
   priority: P1, created_at: "2026-03-03T10:00:00Z", acknowledged_at: "2026-03-03T10:06:00Z",
   resolved_at: "2026-03-03T10:40:00Z", assignments: [{at: "2026-03-03T10:00:00Z", assignee: PUADA01}],
   notifications: [{at: "2026-03-03T10:00:00Z", user: PUADA01, type: email},
                   {at: "2026-03-03T10:00:30Z", user: PUADA01, type: push},
                   {at: "2026-03-03T10:00:50Z", user: PUADA01, type: phone},
                   {at: "2026-03-03T10:05:00Z", user: PUADA01, type: phone}]}
# Wed: Ada at 21:59 London is off hours, Bob at 22:00 London is asleep.
- {id: QBEDTIME, incident_number: 2, title: Bedtime, service: PSVPAY1, status: resolved, urgency: high, priority: P3,
   created_at: "2026-03-04T21:59:00Z", acknowledged_at: "2026-03-04T22:10:00Z", resolved_at: "2026-03-04T23:00:00Z",
   assignments: [{at: "2026-03-04T21:59:00Z", assignee: PUADA01}, {at: "2026-03-04T22:00:00Z", assignee: PUBOB02}],
   notifications: [{at: "2026-03-04T21:59:00Z", user: PUADA01, type: sms},
                   {at: "2026-03-04T22:00:00Z", user: PUBOB02, type: phone}]}
# Saturday 10:00 is off hours; Monday 09:00 is business hours.
- {id: QSATURDAY, incident_number: 3, title: Saturday morning, service: PSVPAY1, status: resolved, urgency: high,
   created_at: "2026-03-07T10:00:00Z", acknowledged_at: "2026-03-07T10:03:00Z", resolved_at: "2026-03-07T10:30:00Z",
   assignments: [{at: "2026-03-07T10:00:00Z", assignee: PUADA01}],
   notifications: [{at: "2026-03-07T10:00:00Z", user: PUADA01, type: push}]}
- {id: QMONDAY, incident_number: 4, title: Monday morning, service: PSVPAY1, status: resolved, urgency: low,
   created_at: "2026-03-09T09:00:00Z", acknowledged_at: "2026-03-09T09:05:00Z", resolved_at: "2026-03-09T09:20:00Z",
   assignments: [{at: "2026-03-09T09:00:00Z", assignee: PUBOB02}],
   notifications: [{at: "2026-03-09T09:00:00Z", user: PUBOB02, type: phone}]}
# The same instant, 23:30Z: asleep in London, an evening (off hours) in New York.
- {id: QZONES, incident_number: 5, title: Two time zones, service: PSVSRC1, status: resolved, urgency: high,
   created_at: "2026-03-10T23:30:00Z", acknowledged_at: "2026-03-10T23:34:00Z", resolved_at: "2026-03-11T00:30:00Z",
   assignments: [{at: "2026-03-10T23:30:00Z", assignee: PUDEE04}, {at: "2026-03-10T23:30:00Z", assignee: PUADA01}],
   notifications: [{at: "2026-03-10T23:30:00Z", user: PUDEE04, type: phone},
                   {at: "2026-03-10T23:30:00Z", user: PUADA01, type: phone}]}
# Resolved, but created less than 24 h before now: not in analytics yet.
- {id: QRECENT, incident_number: 6, title: Too recent for analytics, service: PSVPAY1, status: resolved, urgency: high,
   created_at: "2026-03-31T01:00:00Z", acknowledged_at: "2026-03-31T01:05:00Z", resolved_at: "2026-03-31T02:00:00Z",
   assignments: [{at: "2026-03-31T01:00:00Z", assignee: PUCYC03}]}
# Still open: only the incidents list knows it.
- {id: QOPEN, incident_number: 7, title: Still burning, service: PSVPAY1, status: acknowledged, urgency: high,
   priority: P2, created_at: "2026-03-20T12:00:00Z", acknowledged_at: "2026-03-20T12:04:00Z",
   assignments: [{at: "2026-03-20T12:00:00Z", assignee: PUEVE05}],
   notifications: [{at: "2026-03-20T12:00:00Z", user: PUEVE05, type: phone}]}
"""
)


@pytest.fixture(scope="module")
def state() -> dict:
    return {**load_pagerduty_state(STATE_FILE), "incidents": INCIDENTS}


@pytest.fixture
def client(state) -> TestClient:
    return TestClient(create_app(state, tokens=[TOKEN], now=lambda: NOW), headers=HEADERS)


def raw(client: TestClient, **body) -> dict:
    response = client.post(RAW, json={"filters": {}, "order": "asc", **body})
    assert response.status_code == 200, response.text
    return response.json()


def responders(client: TestClient, start: str, end: str, **filters) -> dict[str, dict]:
    body = {"filters": {"date_range_start": start, "date_range_end": end, **filters}, "time_zone": "Etc/UTC"}
    response = client.post(RESPONDERS, json=body)
    assert response.status_code == 200, response.text
    return {row["responder_id"]: row for row in response.json()["data"]}


def kinds(row: dict) -> tuple[int, int, int, int]:
    names = ("total_interruptions", "business_hour_interruptions", "off_hour_interruptions", "sleep_hour_interruptions")
    return tuple(row[name] for name in names)


# --- interruption rules, per incident ------------------------------------------------------


def test_raw_incidents_count_interruptions_by_the_published_rules(client):
    rows = {row["id"]: row for row in raw(client, limit=100)["data"]}
    assert kinds(rows["QDEDUPE"]) == (2, 2, 0, 0)  # email not counted, the 20-s phone folded in
    assert rows["QDEDUPE"]["total_notifications"] == 4
    assert kinds(rows["QBEDTIME"]) == (2, 0, 1, 1)  # 21:59 off hours, 22:00 asleep
    assert kinds(rows["QSATURDAY"]) == (1, 0, 1, 0)  # a weekend day at 10:00: off hours
    assert kinds(rows["QMONDAY"]) == (1, 1, 0, 0)  # a weekday at 09:00: business hours
    assert kinds(rows["QZONES"]) == (2, 0, 1, 1)  # New York evening, London night


def test_raw_incidents_report_late_and_only_resolved_ones(client):
    ids = [row["id"] for row in raw(client, limit=100)["data"]]
    assert ids == ["QDEDUPE", "QBEDTIME", "QSATURDAY", "QMONDAY", "QZONES"]  # not QRECENT, not QOPEN
    tomorrow = datetime(2026, 4, 1, 2, tzinfo=UTC)  # 25 h after QRECENT
    later = TestClient(
        create_app(client.app.state.pagerduty.state, tokens=[TOKEN], now=lambda: tomorrow), headers=HEADERS
    )
    assert "QRECENT" in [row["id"] for row in raw(later, limit=100)["data"]]


def test_raw_incident_pages_kept_for_a_query_still_follow_the_clock(state):
    moment = NOW
    client = TestClient(create_app(state, tokens=[TOKEN], now=lambda: moment), headers=HEADERS)
    before = [row["id"] for row in raw(client, limit=100)["data"]]
    moment = datetime(2026, 4, 1, 2, tzinfo=UTC)  # 25 h after QRECENT: analytics knows it now
    after = [row["id"] for row in raw(client, limit=100)["data"]]  # the same query, asked again
    assert "QRECENT" not in before and "QRECENT" in after


def test_raw_incident_row_facts(client):
    row = raw(client, limit=100)["data"][1]
    assert row["id"] == "QBEDTIME"
    assert (
        row
        | {
            "incident_number": 2,
            "description": "Bedtime",
            "created_at": "2026-03-04T21:59:00Z",
            "resolved_at": "2026-03-04T23:00:00Z",
            "status": "resolved",
            "urgency": "high",
            "priority_name": "P3",
            "service_id": "PSVPAY1",
            "service_name": "payments-api",
            "team_id": "PTPAY01",
            "escalation_policy_id": "PEPAY01",
            "seconds_to_first_ack": 660,
            "seconds_to_resolve": 3660,
            "escalation_count": 1,
            "engaged_user_count": 2,
            "assigned_user_ids": [ADA, BOB],
            "acknowledged_user_ids": [BOB],
        }
        == row
    )


def test_raw_incidents_filters_and_time_zone(client):
    window = {"created_at_start": "2026-03-04T00:00:00Z", "created_at_end": "2026-03-10T00:00:00Z"}
    assert [r["id"] for r in raw(client, filters=window)["data"]] == ["QBEDTIME", "QSATURDAY", "QMONDAY"]
    assert [r["id"] for r in raw(client, filters={**window, "urgency": "low"})["data"]] == ["QMONDAY"]
    assert [r["id"] for r in raw(client, filters={"service_ids": ["PSVSRC1"]})["data"]] == ["QZONES"]
    assert [r["id"] for r in raw(client, filters={"team_ids": ["PTSRC02"]})["data"]] == ["QZONES"]
    london = raw(client, filters={"service_ids": ["PSVSRC1"]}, time_zone="America/New_York")
    assert london["time_zone"] == "America/New_York"
    assert london["data"][0]["created_at"] == "2026-03-10T19:30:00-04:00"
    assert [r["id"] for r in raw(client, order="desc")["data"]][:2] == ["QZONES", "QMONDAY"]


def test_raw_incidents_cursor_paging(client):
    seen, body, pages = [], {"limit": 2}, 0
    while True:
        page = raw(client, **body)
        pages += 1
        seen += [row["id"] for row in page["data"]]
        assert page["limit"] == 2 and page["last"] is not None
        if not page["more"]:
            break
        body = {"limit": 2, "starting_after": page["last"]}
    assert pages == 3
    assert seen == ["QDEDUPE", "QBEDTIME", "QSATURDAY", "QMONDAY", "QZONES"]


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 1001},
        {"limit": 0},
        {"starting_after": "not-a-cursor"},
        {"filters": {"urgency": "medium"}},
        {"filters": {"created_at_start": "last tuesday"}},
        {"filters": {"team": ["PTPAY01"]}},
        {"order": "sideways"},
    ],
)
def test_raw_incidents_bad_requests_get_a_pagerduty_400(client, assert_matches_spec, body):
    response = client.post(RAW, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2001


def test_analytics_needs_the_token(state):
    response = TestClient(create_app(state, tokens=[TOKEN])).post(RAW, json={})
    assert response.status_code == 401


# --- responder metrics ---------------------------------------------------------------------


def test_responder_metrics_per_person_in_their_time_zone(client):
    week = responders(client, "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z")
    ada, bob = week[ADA], week[BOB]
    assert kinds_of(ada) == (4, 2, 2, 0)  # QDEDUPE 2 business, QBEDTIME off, QSATURDAY off
    assert ada["total_notifications"] == 6 and ada["total_incident_count"] == 3
    assert kinds_of(bob) == (1, 0, 0, 1)
    assert bob["responder_name"] == "Bob Bell" and bob["team_id"] == "PTPAY01"
    later = responders(client, "2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z")
    assert kinds_of(later[DEE]) == (1, 0, 1, 0)  # 19:30 EDT
    assert kinds_of(later[ADA])[3] == 1  # 23:30 GMT
    assert kinds_of(later[BOB]) == (1, 1, 0, 0)  # low urgency still rings when a rule says so


def kinds_of(row: dict) -> tuple[int, int, int, int]:
    names = ("business", "off", "sleep")
    return (row["total_interruptions"], *(row[f"total_{kind}_hour_interruptions"] for kind in names))


def test_responder_seconds_on_call_from_the_final_schedule(client):
    week = responders(client, "2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z")
    # Bob's turn starts Monday 09:00; Dee's one-day cover layer takes 2026-03-10 from him.
    assert week[BOB]["total_seconds_on_call"] == (15 + 5 * 24) * 3600
    assert week[BOB]["total_seconds_on_call_level_2_plus"] == 0
    assert week[DEE]["total_seconds_on_call"] == 24 * 3600
    # Ada is the policy's second level, targeted directly: on call the whole week.
    assert week[ADA]["total_seconds_on_call"] == 7 * 86400
    assert week[ADA]["total_seconds_on_call_level_2_plus"] == 7 * 86400


def test_responder_metrics_filters(client):
    week = ("2026-03-02T00:00:00Z", "2026-03-16T00:00:00Z")
    assert set(responders(client, *week, responder_ids=[BOB])) == {BOB}
    assert set(responders(client, *week, team_ids=["PTSRC02"])) == {DEE}
    assert kinds_of(responders(client, *week, urgency="low")[BOB]) == (1, 1, 0, 0)
    bad = client.post(RESPONDERS, json={"filters": {"date_range_start": "2026-03-02T00:00:00Z"}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 2001


# --- the incidents list --------------------------------------------------------------------


def test_incidents_list_filters_and_new_fields(client):
    params = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-31T12:00:00Z", "total": "true"}
    everything = client.get("/incidents", params=params).json()
    assert everything["total"] == 7
    open_high = client.get(
        "/incidents", params={**params, "statuses[]": ["triggered", "acknowledged"], "urgencies[]": "high"}
    ).json()["incidents"]
    assert [i["id"] for i in open_high] == ["QOPEN"]
    incident = open_high[0]
    assert incident["priority"]["name"] == "P2" and incident["priority"]["type"] == "priority"
    assert incident["resolved_at"] is None
    assert [(a["at"], a["acknowledger"]["id"]) for a in incident["acknowledgements"]] == [
        ("2026-03-20T12:04:00Z", "PUEVE05")
    ]
    resolved = client.get("/incidents/QDEDUPE").json()["incident"]
    assert resolved["resolved_at"] == "2026-03-03T10:40:00Z"
    assert resolved["acknowledgements"] == [] and resolved["assignments"] == []
    assert client.get("/incidents/QSATURDAY").json()["incident"]["priority"] is None
    low = client.get("/incidents", params={**params, "urgencies[]": "low"}).json()["incidents"]
    assert [i["id"] for i in low] == ["QMONDAY"]


def test_incidents_list_sorts_by_up_to_two_fields(client):
    params = {"date_range": "all", "total": "true"}
    newest = client.get("/incidents", params={**params, "sort_by": "resolved_at:desc,incident_number:desc"}).json()
    ids = [i["id"] for i in newest["incidents"]]
    # Not resolved, no resolved_at: before every resolved one, newest first (the emulator's choice).
    assert ids == ["QOPEN", "QRECENT", "QZONES", "QMONDAY", "QSATURDAY", "QBEDTIME", "QDEDUPE"]
    assert newest["total"] == 7
    resolved = client.get("/incidents", params={**params, "statuses[]": "resolved", "sort_by": "resolved_at:desc"})
    assert [i["id"] for i in resolved.json()["incidents"]][:2] == ["QRECENT", "QZONES"]
    by_number = client.get("/incidents", params={**params, "sort_by": "incident_number:desc", "limit": 2})
    assert [i["incident_number"] for i in by_number.json()["incidents"]] == [7, 6]
    by_urgency = client.get("/incidents", params={**params, "sort_by": "urgency,created_at:desc"}).json()
    assert by_urgency["incidents"][0]["id"] == "QMONDAY"  # the one low-urgency incident, then high by newest
    assert by_urgency["incidents"][1]["id"] == "QRECENT"


@pytest.mark.parametrize(
    "sort_by", ["title:desc", "resolved_at:down", "created_at,resolved_at,incident_number"], ids=str
)
def test_incidents_list_refuses_a_sort_it_does_not_know(client, assert_matches_spec, sort_by):
    response = client.get("/incidents", params={"sort_by": sort_by})
    assert response.status_code == 400 and "sort_by" in str(response.json()["error"])
    assert_matches_spec("/incidents", response.json(), status=400)


def test_incidents_list_keeps_the_offset_cap(client):
    response = client.get("/incidents", params={"offset": 9950, "limit": 100})
    assert response.status_code == 400 and response.json()["error"]["code"] == 2002


# --- notes ---------------------------------------------------------------------------------


def test_notes_need_a_from_header_of_a_known_user(client, assert_matches_spec):
    note = {"note": {"content": "Estimated loss so far: 30 min x GBP 200/min = GBP 6,000 (payments-api)"}}
    missing = client.post("/incidents/QOPEN/notes", json=note)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 2001
    assert_matches_spec.post("/incidents/{id}/notes", missing.json(), status=400)
    stranger = client.post("/incidents/QOPEN/notes", json=note, headers={"From": "mallory@example.com"})
    assert stranger.status_code == 400
    assert client.get("/incidents/QOPEN/notes").json() == {"notes": []}


def test_notes_are_created_and_listed(client, assert_matches_spec):
    sender = {"From": "Ada.Lovelace@example.com"}
    created = client.post("/incidents/QOPEN/notes", json={"note": {"content": "first"}}, headers=sender)
    assert created.status_code == 201, created.text
    note = created.json()["note"]
    assert_matches_spec.component("IncidentNote", note)
    assert note["user"]["id"] == ADA and note["content"] == "first"
    assert note["created_at"] == "2026-03-31T12:00:00Z"
    client.post("/incidents/QOPEN/notes", json={"note": {"content": "second"}}, headers=sender)
    listed = client.get("/incidents/QOPEN/notes").json()
    assert_matches_spec("/incidents/{id}/notes", listed)
    assert [n["content"] for n in listed["notes"]] == ["first", "second"]
    assert client.get("/incidents/QDEDUPE/notes").json() == {"notes": []}


@pytest.mark.parametrize("body", [{}, {"note": {}}, {"note": {"content": ""}}, {"content": "flat"}])
def test_notes_need_content(client, body):
    response = client.post("/incidents/QOPEN/notes", json=body, headers={"From": "bob.bell@example.com"})
    assert response.status_code == 400


def test_notes_on_an_unknown_incident_are_404(client):
    response = client.post(
        "/incidents/QNOSUCH/notes", json={"note": {"content": "x"}}, headers={"From": "bob.bell@example.com"}
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == 2100
    assert client.get("/incidents/QNOSUCH/notes").status_code == 404


# --- contract: the new shapes validate against the spec ------------------------------------


def test_analytics_responses_match_the_spec(client, assert_matches_spec):
    page = raw(client, limit=2, time_zone="Etc/UTC")
    assert_matches_spec.post(RAW, page)
    body = {"filters": {"date_range_start": "2026-03-02T00:00:00Z", "date_range_end": "2026-03-16T00:00:00Z"}}
    response = client.post(RESPONDERS, json=body)
    assert_matches_spec.post(RESPONDERS, response.json())
    assert response.json()["data"]


def test_incident_json_with_priority_and_acknowledgements_matches_the_spec(client, assert_matches_spec):
    listed = client.get("/incidents", params={"date_range": "all"}).json()
    assert_matches_spec("/incidents", listed)
    assert_matches_spec("/incidents/{id}", client.get("/incidents/QOPEN").json())


# --- state validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"notifications": [{"at": "2026-03-03T10:00:00Z", "user": "PNOBODY", "type": "phone"}]}, r"'user'.*PNOBODY"),
        ({"notifications": [{"at": "2026-03-03T10:00:00Z", "user": ADA, "type": "pigeon"}]}, r"'type'"),
        ({"notifications": [{"at": "2026-03-03T09:00:00Z", "user": ADA, "type": "sms"}]}, r"'at'.*before"),
        ({"notifications": [{"at": "2026-03-03T10:00:00Z", "user": ADA, "type": "sms", "via": 1}]}, r"'via'"),
        ({"resolved_at": "2026-03-03T09:00:00Z"}, r"'resolved_at'.*before"),
        ({"status": "triggered"}, r"'resolved_at'.*triggered"),
        ({"priority": " "}, r"'priority'"),
        ({"severity": "sev1"}, r"'severity'.*unknown"),
    ],
)
def test_incident_state_errors_name_the_incident_and_field(state, change, message):
    incident = {**INCIDENTS[0], **change}
    with pytest.raises(StateError, match=r"incidents\[QDEDUPE\].*" + message):
        parse_state({**state, "incidents": [incident]})


def test_older_incident_state_stays_valid(state):
    old = {k: v for k, v in INCIDENTS[0].items() if k not in ("acknowledged_at", "resolved_at", "notifications")}
    parsed = parse_state({**state, "incidents": [{**old, "last_status_change_at": "2026-03-03T10:40:00Z"}]})
    assert parsed.incidents["QDEDUPE"].resolved_at == datetime(2026, 3, 3, 10, 40, tzinfo=UTC)
