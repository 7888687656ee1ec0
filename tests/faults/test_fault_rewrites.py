"""What each rewriting fault does to an answer (the matrix drives them through the whole audit)."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests

from readiness_sandbox import faults
from readiness_sandbox.in_thread import serving_in_thread
from readiness_sandbox.server import _parse_args

LISTING = {"users": [{"id": "P1", "email": "a@x"}, {"id": "P2", "email": "b@x"}], "more": False, "total": 2}
CALENDAR = (
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:one\r\nDTSTART:20261001\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:two\r\nDTSTART;VALUE=DATE:20261101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def rewrite(fault: str, body, *, query: bytes = b"limit=100", **spec) -> bytes:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    scope = {"query_string": query, "headers": []}
    return faults._rewrite(fault, {"fault": fault, **spec}, "pagerduty", scope, raw, "application/json")


def test_a_truncated_last_page_loses_an_item_but_still_claims_to_be_complete():
    page = json.loads(rewrite("truncated_page", LISTING))
    assert [user["id"] for user in page["users"]] == ["P1"]
    assert page["more"] is False and page["total"] == 2


def test_a_page_that_announces_the_next_one_is_left_whole():
    assert json.loads(rewrite("truncated_page", {**LISTING, "more": True})) == {**LISTING, "more": True}


def test_schema_drift_removes_the_field_from_every_object():
    page = json.loads(rewrite("schema_drift", LISTING))
    assert page["users"] == [{"id": "P1"}, {"id": "P2"}]


def test_malformed_json_does_not_parse():
    with pytest.raises(ValueError):
        json.loads(rewrite("malformed_json", LISTING))


def test_a_calendar_loses_its_last_event_or_a_property():
    truncated = rewrite("truncated_page", CALENDAR).decode()
    assert "UID:one" in truncated and "UID:two" not in truncated and truncated.endswith("END:VCALENDAR\r\n")
    drifted = rewrite("schema_drift", CALENDAR, field="DTSTART").decode()
    assert "DTSTART" not in drifted and drifted.count("BEGIN:VEVENT") == 2


def test_the_server_takes_a_fault_on_its_command_line():
    assert _parse_args(["--fault", "grafana=connection_reset"]).fault == [("grafana", {"fault": "connection_reset"})]
    with pytest.raises(SystemExit):
        _parse_args(["--fault", "grafana=gremlins"])


def test_a_rewritten_answer_is_counted_before_its_client_can_read_its_end():
    """The matrix reads the count as soon as the audit gave up on the answer; the app may still be running."""

    async def answers_then_lingers(scope, receive, send):
        body = json.dumps(LISTING).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        await asyncio.sleep(0.5)

    app = faults.Faults(answers_then_lingers, sources=["pagerduty"], faults={"pagerduty": {"fault": "schema_drift"}})
    with serving_in_thread(app) as base:
        users = requests.get(f"{base}/pagerduty/users", timeout=5).json()["users"]
        assert users == [{"id": "P1"}, {"id": "P2"}]
        assert faults.set_fault(base, "pagerduty", None) == 1
