"""The PagerDuty collector against the emulator: fewest calls, pagination, throttling, errors."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from oncall_readiness.sandbox.process import running_sandbox
from oncall_readiness.sources.http import SourceError
from oncall_readiness.sources.pagerduty import AuditWindow, PagerDutyClient, collect

WINDOW = AuditWindow(
    since=dt.datetime(2026, 10, 19, tzinfo=dt.UTC),
    until=dt.datetime(2026, 11, 16, tzinfo=dt.UTC),
)


def big_account(users: int) -> dict:
    """An account with many users and one weekly rotation of the first three."""
    people = [
        {"id": f"PU{i:05d}", "name": f"User {i}", "email": f"User.{i}@Example.com", "time_zone": "UTC"}
        for i in range(users)
    ]
    layer = {
        "id": "PL00001",
        "name": "Layer 1",
        "start": "2026-01-05T09:00:00Z",
        "end": None,
        "rotation_virtual_start": "2026-01-05T09:00:00Z",
        "rotation_turn_length_seconds": 604800,
        "users": [p["id"] for p in people[:3]],
        "restrictions": [],
    }
    schedule = {"id": "PS00001", "name": "Big rotation", "time_zone": "UTC", "teams": [], "layers": [layer]}
    return {"users": people, "schedules": [schedule]}


@pytest.fixture(scope="module")
def sample_sandbox():
    with running_sandbox() as sandbox:
        yield sandbox


def test_sample_org_collects_in_one_call_per_collection(sample_sandbox):
    client = PagerDutyClient(sample_sandbox.token, base_url=sample_sandbox.pagerduty_url)
    facts = collect(client, WINDOW)
    assert client.requests_made == 4  # users, schedules (layers + final schedule), services, policies
    assert len(facts["pagerduty_users"]) > 30
    assert facts["pagerduty_users"]["email"].str.islower().all()
    shifts = facts["pagerduty_oncall_shifts"]
    assert shifts["start"].min() >= pd.Timestamp(WINDOW.since) and shifts["end"].max() <= pd.Timestamp(WINDOW.until)
    assert not facts["pagerduty_rotation_members"].empty


def test_pagination_walks_every_page_at_the_largest_page_size():
    with running_sandbox(pagerduty_state=big_account(250)) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.pagerduty_url)
        facts = collect(client, WINDOW)
    users = facts["pagerduty_users"]
    assert len(users) == 250 and users["user_id"].is_unique
    assert users["email"].iloc[0] == "user.0@example.com"
    assert client.requests_made == 3 + 1 + 1 + 1  # 250 users in pages of 100, then the rest


def test_throttled_collection_gives_the_same_facts(sample_sandbox):
    unthrottled = collect(PagerDutyClient(sample_sandbox.token, base_url=sample_sandbox.pagerduty_url), WINDOW)
    with running_sandbox(rate_limit="2/1") as throttled_sandbox:
        client = PagerDutyClient(throttled_sandbox.token, base_url=throttled_sandbox.pagerduty_url, backoff_factor=0.1)
        throttled = collect(client, WINDOW)
    assert client.retries >= 1, "the sandbox should have answered 429 at least once"
    for table, frame in unthrottled.items():
        pd.testing.assert_frame_equal(frame, throttled[table], obj=table)


def test_server_errors_are_retried():
    with running_sandbox(fail_next=2) as sandbox:
        client = PagerDutyClient(sandbox.token, base_url=sandbox.pagerduty_url, backoff_factor=0.05)
        facts = collect(client, WINDOW)
    assert client.retries == 2 and len(facts["pagerduty_users"]) > 0


def test_a_wrong_token_fails_at_once_with_the_api_message_and_no_secret(sample_sandbox):
    client = PagerDutyClient("wrong-secret-token", base_url=sample_sandbox.pagerduty_url)
    with pytest.raises(SourceError) as error:
        collect(client, WINDOW)
    message = str(error.value)
    assert message.startswith("pagerduty: GET /pagerduty/users answered 401")
    assert "wrong-secret-token" not in message
    assert client.requests_made == 1


def test_no_token_is_refused_before_any_call():
    with pytest.raises(SourceError, match="no API token"):
        PagerDutyClient("")
