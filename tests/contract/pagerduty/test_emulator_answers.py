"""The emulator keeps what a query matched for its next pages: what a client notices stays true.

The PagerDuty emulator finds a list query's matches once and serves its pages from them, and
answers with ``json.dumps`` rather than FastAPI's encoder. A page must still be what the
account holds now: after the account changes, or the clock moves a default window, the next
query sees it; and the pages of one query are its matches, each once.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from readiness_sandbox.pagerduty.app import create_app, load_pagerduty_state, parse_state

STATE_FILE = Path(__file__).parent / "fixtures" / "pagerduty_state.yaml"
TOKEN = "test-token"
HEADERS = {"Authorization": f"Token token={TOKEN}", "Accept": "application/vnd.pagerduty+json;version=2"}


def _client(state, now=None) -> TestClient:
    return TestClient(create_app(state, tokens=[TOKEN], now=now), headers=HEADERS)


def _ids(client: TestClient, path: str, key: str, **params) -> list[str]:
    response = client.get(path, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [obj["id"] for obj in response.json()[key]]


def test_the_pages_of_a_query_are_its_matches_each_once():
    client = _client(load_pagerduty_state(STATE_FILE))
    whole = _ids(client, "/users", "users")
    paged = [
        user for offset in range(0, len(whole)) for user in _ids(client, "/users", "users", limit=1, offset=offset)
    ]
    assert paged == whole and len(whole) == len(set(whole)) > 2
    one_team = _ids(client, "/users", "users", **{"team_ids[]": ["PTPAY01"]})
    assert one_team and set(one_team) < set(whole)  # another query's matches, not the first one's


def test_a_user_added_to_the_account_is_listed_by_the_next_query():
    state = parse_state(load_pagerduty_state(STATE_FILE))
    client = _client(state)
    before = _ids(client, "/users", "users")
    first = state.users[before[0]]
    state.users["PUNEW01"] = dataclasses.replace(first, id="PUNEW01", name="Aaron Newcomer", email="new@example.com")
    after = _ids(client, "/users", "users")
    assert after == ["PUNEW01", *before]  # listed by name: first
    assert client.get("/users", params={"query": "newcomer"}).json()["users"][0]["id"] == "PUNEW01"


def test_a_default_window_follows_the_clock_and_is_not_served_from_an_earlier_query():
    state = parse_state(load_pagerduty_state(STATE_FILE))
    clock = {"now": datetime(2026, 3, 25, tzinfo=UTC)}
    client = _client(state, now=lambda: clock["now"])
    march = _ids(client, "/incidents", "incidents")  # the last 30 days: the two March incidents
    clock["now"] += timedelta(days=365)
    a_year_later = _ids(client, "/incidents", "incidents")
    assert march == ["Q0PAY001", "Q0SRC002"] and a_year_later == []
    fresh = _client(state, now=lambda: clock["now"])
    assert _ids(fresh, "/incidents", "incidents") == a_year_later
